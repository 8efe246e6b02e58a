# Reference values for tests/stats/test_regression.py and tests/stats/test_bayes.py.
# R 4.2.2, nlme 3.1-162 (Debian r-base-core, r-cran-nlme); run in tests/reference as:
#   Rscript ar1_gls.R > ar1_gls.Rout
# Writes the simulated data sets to ar1_data.csv (columns: dataset, day, arm, y) and prints
# the fits.  `arm` is 1 for the active arm, 0 for placebo; `day` is an integer day number.
library(nlme)
options(digits = 12)
set.seed(20240611)

ar1_errors <- function(days, rho, sd) {
  # stationary AR(1) on the integer grid min(days):max(days), then sampled at `days`
  grid <- seq(min(days), max(days))
  e <- as.numeric(arima.sim(list(ar = rho), n = length(grid), sd = sd * sqrt(1 - rho^2)))
  e[match(days, grid)]
}
blocks <- function(n_periods, period_days) {
  # one active and one placebo period per block, order random within each block
  arms <- unlist(lapply(seq_len(n_periods / 2), function(b) sample(c(0, 1))))
  rep(arms, each = period_days)
}

sets <- list()
# A: 60 consecutive days, periods of 5 days, rho 0.5, effect 0.8, trend 0.02/day
day <- 1:60
sets$A <- data.frame(day = day, arm = blocks(12, 5))
sets$A$y <- 5 + 0.8 * sets$A$arm + 0.02 * day + ar1_errors(day, 0.5, 1.2)
# B: 48 of 80 days (irregular gaps), rho 0.7
day <- sort(sample(1:80, 48))
sets$B <- data.frame(day = day, arm = blocks(12, 4))
sets$B$y <- 3 + 0.5 * sets$B$arm - 0.01 * day + ar1_errors(day, 0.7, 1.0)
# E: every other day, a few doses missed (every gap even, so only rho^2 is identified:
# rho and -rho give the same likelihood and the same arm estimate)
day <- sort(sample(seq(1, 140, by = 2), 48))
sets$E <- data.frame(day = day, arm = blocks(12, 4))
sets$E$y <- 3 + 0.5 * sets$E$arm - 0.01 * day + ar1_errors(day, 0.7, 1.0)
# C: 30 days, negative autocorrelation, no true effect
day <- 1:30
sets$C <- data.frame(day = day, arm = blocks(10, 3))
sets$C$y <- 6 + ar1_errors(day, -0.4, 1.5)
# D: a year (365 days), periods of 7 days (52 periods + 1 spare placebo day), rho 0.3
day <- 1:365
sets$D <- data.frame(day = day, arm = c(blocks(52, 7), 0))
sets$D$y <- 4 + 0.3 * sets$D$arm + 0.002 * day + ar1_errors(day, 0.3, 1.0)

out <- do.call(rbind, lapply(names(sets), function(n) cbind(dataset = n, sets[[n]])))
out$y <- round(out$y, 6)  # the CSV holds 6 decimals; fit exactly what is written
write.csv(out, "ar1_data.csv", row.names = FALSE, quote = FALSE)
dat <- read.csv("ar1_data.csv")

show <- function(label, fit) {
  tt <- summary(fit)$tTable
  phi <- coef(fit$modelStruct$corStruct, unconstrained = FALSE)
  ci <- intervals(fit, which = "coef")$coef["arm", ]
  cat(sprintf("%s arm estimate %.10f se %.10f t %.10f p %.10g phi %.10f df %d ci %.10f %.10f logLik %.10f\n",
              label, tt["arm", "Value"], tt["arm", "Std.Error"], tt["arm", "t-value"],
              tt["arm", "p-value"], phi, fit$dims$N - fit$dims$p, ci[1], ci[3], logLik(fit)))
}
# gls() started at its default phi = 0 stops there when every gap is even (data set E):
# the likelihood is then even in phi, so its slope at 0 is zero.  Each ML fit below is
# therefore started from several values and the one with the highest likelihood is kept;
# the default-start fits are printed first for the record.
for (n in names(sets)) {
  f0 <- gls(y ~ arm + day, data = dat[dat$dataset == n, ], method = "ML",
            correlation = corAR1(form = ~ day))
  cat(sprintf("%s default-start phi %.10f logLik %.10f\n", n,
              coef(f0$modelStruct$corStruct, unconstrained = FALSE), logLik(f0)))
}
best_ml <- function(formula, d) {
  fits <- lapply(c(-0.6, -0.2, 0.2, 0.6), function(phi0)
    gls(formula, data = d, method = "ML", correlation = corAR1(phi0, form = ~ day),
        control = glsControl(tolerance = 1e-10, msTol = 1e-10)))
  fits[[which.max(sapply(fits, logLik))]]
}
for (n in names(sets)) {
  d <- dat[dat$dataset == n, ]
  show(paste(n, "trend"), best_ml(y ~ arm + day, d))
  show(paste(n, "notrend"), best_ml(y ~ arm, d))
  # fixed rho = 0.4, REML scale: the reference-prior posterior of the arm effect is
  # t(n - p) centred at this estimate with this standard error
  fit <- gls(y ~ arm + day, data = d, method = "REML",
             correlation = corAR1(0.4, form = ~ day, fixed = TRUE))
  tt <- summary(fit)$tTable
  cat(sprintf("%s fixed0.4 arm estimate %.10f se %.10f df %d P(arm>0) %.12f\n", n,
              tt["arm", "Value"], tt["arm", "Std.Error"], fit$dims$N - fit$dims$p,
              pt(tt["arm", "t-value"], fit$dims$N - fit$dims$p)))
  # classical OLS y ~ arm
  ols <- summary(lm(y ~ arm, data = d))$coefficients
  cat(sprintf("%s ols arm estimate %.10f se %.10f p %.10g df %d\n", n, ols["arm", 1],
              ols["arm", 2], ols["arm", 4], nrow(d) - 2))
}
