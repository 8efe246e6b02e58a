# Reference values for tests/stats/test_blinding.py.
# R package BI 1.2.0 (Schwartz & Mercaldo, GitHub marcschwartz/BI, commit 324e836),
# installed from that source with R CMD INSTALL (CRAN was out of reach); R 4.2.2, run in
# tests/reference as:  R_LIBS=<lib with BI> Rscript blinding_bi.R > blinding_bi.Rout
# Rows of each table: guess treatment / guess placebo / don't know; columns: actual
# treatment / actual placebo.
library(BI)
stopifnot(packageVersion("BI") == "1.2.0")
options(digits = 10)
tables <- list(
  # CRISP, Bang et al. 2004, table 7 (BI help page example)
  crisp = matrix(c(82, 27, 25, 29, 170, 83), nrow = 3, byrow = TRUE),
  # Houweling et al. 2014, table 2: investigators, research coordinators, patients
  houweling_investigators = matrix(c(48, 22, 4, 30, 330, 319), nrow = 3, byrow = TRUE),
  houweling_coordinators = matrix(c(94, 52, 11, 44, 289, 284), nrow = 3, byrow = TRUE),
  houweling_patients = matrix(c(143, 104, 14, 57, 188, 175), nrow = 3, byrow = TRUE),
  # small self-experiment-sized tables (10 periods per arm)
  self_unblinded = matrix(c(8, 1, 1, 7, 1, 2), nrow = 3, byrow = TRUE),
  self_opposite = matrix(c(2, 6, 5, 1, 3, 3), nrow = 3, byrow = TRUE),
  self_no_unsure = matrix(c(6, 4, 4, 6, 0, 0), nrow = 3, byrow = TRUE),
  # edge case: every guess is "don't know" (James BI = 1, SE = 0; Bang undefined)
  all_unsure = matrix(c(0, 0, 0, 0, 5, 5), nrow = 3, byrow = TRUE)
)
for (name in names(tables)) {
  cat("==", name, "\n")
  print(tables[[name]])
  print(BI(tables[[name]]))
  print(BI(tables[[name]], alternative.B = "greater")$BangBI)
  print(BI(tables[[name]], alternative.B = "less")$BangBI)
}
