# Reference values for tests/test_reference_data.py: the `classical` and `ar1` companions of
# `blindself analyze` on the gwern.net self-experiments in tests/data/.
# R 4.2.2, nlme 3.1-162; run in tests/reference as:  Rscript gwern_lm.R > gwern_lm.Rout
library(nlme)
options(digits = 10)
show <- function(label, fit) {
  co <- summary(fit)$coefficients
  cat(sprintf("%s: estimate %.10f se %.10f df %d p %.10g n %d\n", label, co[2, 1], co[2, 2],
              fit$df.residual, co[2, 4], nrow(fit$model)))
}

# Noopept pilot: MP ~ Noopept (Magtein ignored, as blindself analyses one arm column)
noo <- read.csv("../data/gwern2013-noopept.csv")
show("noopept MP", lm(MP ~ Noopept, data = noo))

# LSD microdosing: rows with LSD = NA (days outside a block) are skipped, as blindself does.
lsd <- read.csv("../data/gwern2013-lsd-microdose.csv")
lsd <- lsd[!is.na(lsd$LSD), ]
outcomes <- c("DaysSince", "Total.Z", "Time.to.Z", "Time.in.Wake", "Awakenings",
              "Morning.Feel", "Mnemosyne", "MP", "Creativity")
# missing = "pairwise": each outcome on its own rows (lm's na.omit)
for (o in outcomes) show(paste("lsd pairwise", o), lm(reformulate("LSD", o), data = lsd))
# missing = "listwise": rows missing any outcome dropped first
full <- lsd[complete.cases(lsd[, outcomes]), ]
for (o in c("MP", "Mnemosyne")) show(paste("lsd listwise", o), lm(reformulate("LSD", o), data = full))

# AR(1) companion: day numbers from the Date column (skipped days keep their gap)
lsd$day <- as.numeric(as.Date(lsd$Date) - min(as.Date(read.csv("../data/gwern2013-lsd-microdose.csv")$Date)))
mp <- lsd[!is.na(lsd$MP), ]
g <- gls(MP ~ LSD + day, data = mp, correlation = corAR1(form = ~ day), method = "ML")
tt <- summary(g)$tTable
cat(sprintf("lsd ar1 MP: estimate %.10f se %.10f p %.10g rho %.10f\n", tt["LSD", 1], tt["LSD", 2],
            tt["LSD", 4], coef(g$modelStruct$corStruct, unconstrained = FALSE)))

# Szigeti et al. 2021 (tests/data/szigeti2021-acutes.csv): one measure at one time point
# across participants (each row its own unit), MD vs PL, and the guess table.
sz <- read.csv("../data/szigeti2021-acutes.csv")
w4 <- subset(sz, test_name == "mood" & tp == "w4s1")
w4$md <- as.numeric(w4$condition == "MD")
show("szigeti mood w4s1", lm(value ~ md, data = w4))
print(table(guess = w4$guess, condition = w4$condition))
