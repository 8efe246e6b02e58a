# Reference values for tests/stats/test_pooling.py (pooled analysis, `blindself pool`).
# Data: tests/data/szigeti2021-acutes.csv (Szigeti et al. 2021, eLife 10:e62878; MIT, from
# github.com/balazs1987/mcrds_public data/pacutes.csv).  Model as in that repository's
# "analysis scripts/acutes_analysis.r" (Table 2) and stratification_analysis.r (figure 5):
#   value ~ condition + expectation + psychiatric_past [+ guess] + (1 | trial_id), REML,
# rows test_name == MEASURE (all acute weeks w1s1..w4s1), condition/guess coded MD = 1, PL = 0.
# R 4.2.2, lme4 1.1-31, emmeans 1.8.4, metafor 3.8-1 (Debian r-cran-* packages).  Run in
# tests/reference as:  Rscript pool_lmer.R > pool_lmer.Rout
suppressMessages({library(lme4); library(emmeans); library(metafor)})
options(digits = 10)
cat(R.version.string, "lme4", format(packageVersion("lme4")), "emmeans",
    format(packageVersion("emmeans")), "metafor", format(packageVersion("metafor")), "\n")
d <- read.csv("../data/szigeti2021-acutes.csv")
d$arm <- as.numeric(d$condition == "MD")
d$gmd <- as.numeric(d$guess == "MD")
emm_options(lmer.df = "asymptotic")
for (t in c("PANAS", "mood", "intensity")) {
  s <- subset(d, test_name == t)
  cat("==", t, "rows", nrow(s), "participants", length(unique(s$trial_id)), "\n")
  m1 <- lmer(value ~ arm + expectation + psychiatric_past + (1 | trial_id), data = s, REML = TRUE)
  m2 <- lmer(value ~ arm + expectation + psychiatric_past + gmd + (1 | trial_id), data = s,
             REML = TRUE)
  cat("m1 arm", coef(summary(m1))["arm", 1:2], "\n")
  cat("m1 varcorr", as.data.frame(VarCorr(m1))$vcov, "\n")
  cat("m2 arm", coef(summary(m2))["arm", 1:2], "\n")
  cat("m2 guess", coef(summary(m2))["gmd", 1:2], "\n")
  # strata: condition x guess, emmeans at the covariates' means
  s$cond <- factor(s$condition, levels = c("PL", "MD"))
  s$gs <- factor(s$guess, levels = c("PL", "MD"))
  m3 <- lmer(value ~ cond * gs + expectation + psychiatric_past + (1 | trial_id), data = s,
             REML = TRUE)
  cells <- as.data.frame(summary(emmeans(m3, ~ cond | gs)))
  print(cells[, c("cond", "gs", "emmean", "SE")], digits = 10)
  print(as.data.frame(summary(pairs(emmeans(m3, ~ cond | gs), reverse = TRUE)))[
    , c("gs", "estimate", "SE", "p.value")], digits = 10)
  print(as.data.frame(summary(pairs(emmeans(m3, ~ gs | cond), reverse = TRUE)))[
    , c("cond", "estimate", "SE", "p.value")], digits = 10)
  # per-person N-of-1 contrasts (OLS value ~ arm within each person having both arms and at
  # least one residual df), pooled by DerSimonian-Laird
  est <- c(); sei <- c()
  for (id in unique(s$trial_id)) {
    p <- subset(s, trial_id == id)
    if (length(unique(p$arm)) == 2 && nrow(p) > 2) {
      # constant ratings in both arms give SE 0 ("essentially perfect fit"): left out
      co <- suppressWarnings(coef(summary(lm(value ~ arm, data = p))))
      if (nrow(co) == 2 && is.finite(co[2, 2]) && co[2, 2] > 1e-9) {
        est <- c(est, co[2, 1]); sei <- c(sei, co[2, 2])
      }
    }
  }
  r <- rma(yi = est, sei = sei, method = "DL")
  cat("meta k", r$k, "est", r$b[1], "se", r$se, "tau2", r$tau2, "I2", r$I2, "Q", r$QE, "\n")
}
# DerSimonian-Laird on a small hand example (docstring of random_effects_meta)
print(rma(yi = c(1, 2, 4), sei = c(1, 1, 2), method = "DL"))
print(rma(yi = c(-1, 2, 5, 0.5), sei = c(1, 0.8, 1.5, 0.6), method = "DL"))
# exact binomial test of 5 correct guesses of 8 against an informed guesser's 75 %
print(binom.test(5, 8, 0.75)$p.value, digits = 10)
