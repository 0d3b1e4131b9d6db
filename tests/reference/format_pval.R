# R's p-value printout (format.pval, digits = 3, as printCoefmat in lme4/lmerTest/summary.lm),
# for alsstats.formatting.format_p_value(style = "r"). Writes format_pval.json beside it.
# Run from the repository root: Rscript tests/reference/format_pval.R
library(jsonlite)
single <- c(0.5, 0.05, 0.0523, 0.12345, 0.000123, 1e-4, 2.5123e-5, 1e-20, 0.001, 0.00099,
            0.999999, 1, 0.0999999, 3e-300, 0.00012345, 0.04449, 0.9, 1.5e-10, 2.3e-16,
            0.0000999, 0.01, 0.00995)
vectors <- list(
  single,
  c(0.05, 0.5123, 1e-20),
  c(1.49e-12, 1e-20),
  c(0.0123, 1e-20),
  c(0.8, 0.12, 0.0456),
  c(2e-5, 3.1e-7, 0.2),
  c(0.000123, 0.5),
  c(1e-300, 1e-20)
)
out <- list(
  R_version = R.version.string,
  single = list(p = single, text = vapply(single, format.pval, "", digits = 3)),
  vectors = lapply(vectors, function(p) list(p = p, text = format.pval(p, digits = 3)))
)
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE),
           "tests/reference/format_pval.json")
