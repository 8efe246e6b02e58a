# Adjusted p-values for the 15 p-values of Benjamini & Hochberg (1995),
# J R Statist Soc B 57:289-300, section 4.2.  Run: Rscript p_adjust_bh1995.R > p_adjust_bh1995.out
p <- c(0.0001, 0.0004, 0.0019, 0.0095, 0.0201, 0.0278, 0.0298, 0.0344,
       0.0459, 0.3240, 0.4262, 0.5719, 0.6528, 0.7590, 1.0000)
options(digits = 17)
cat(R.version.string, "\n")
cat("holm:", format(p.adjust(p, "holm"), digits = 17), "\n")
cat("BH:", format(p.adjust(p, "BH"), digits = 17), "\n")
cat("holm rejections at 0.05:", sum(p.adjust(p, "holm") <= 0.05), "\n")
cat("BH rejections at 0.05:", sum(p.adjust(p, "BH") <= 0.05), "\n")
