# Fisher's randomization test on Darwin's Zea mays pairs (Fisher 1935, Design of
# Experiments, sec. 21; heights in eighths of an inch, HistData::ZeaMays) and the 95 %
# confidence interval for an additive effect by test inversion, by brute force over
# all 2^15 sign vectors.  Two-sided p = min(1, 2 * min(p_greater, p_less)).
# Run: Rscript darwin_randomization.R > darwin_randomization.out
d <- c(49, -67, 8, 16, 6, 23, 28, 41, 14, 29, 56, 24, 75, 60, -48)
n <- length(d)
signs <- as.matrix(expand.grid(rep(list(c(1, -1)), n)))
two_sided <- function(delta) {
  x <- d - delta
  stat <- as.vector(signs %*% x) / n
  obs <- mean(x)
  tol <- 1e-9 * max(abs(d))
  g <- mean(stat >= obs - tol)
  l <- mean(stat <= obs + tol)
  c(min(1, 2 * min(g, l)), g, l)
}
options(digits = 17)
cat(R.version.string, "\n")
cat("mean difference:", mean(d), "\n")
res <- two_sided(0)
cat("p two-sided, greater, less:", res, "\n")
cat("count greater:", res[2] * 2^n, "\n")
# Breaks of p(delta): the means of the differences of each non-empty subset of pairs
# (the flipped ones); p is constant between breaks.
flipped <- signs == -1
k <- rowSums(flipped)
breaks <- sort(unique(round((flipped %*% d)[k > 0] / k[k > 0], 10)))
cand <- sort(c(breaks, (head(breaks, -1) + tail(breaks, -1)) / 2))
near <- cand[cand > -20 & cand < 60]
p <- sapply(near, function(x) two_sided(x)[1])
ok <- near[p >= 0.05]
cat("95% CI:", min(ok), max(ok), "\n")
