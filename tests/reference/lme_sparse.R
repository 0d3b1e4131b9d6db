# Reference fits for alsstats' sparse factorisation of the general mixed-model engine (issue 11):
# partially crossed subjects x items and a large nested design. Run from the repository root:
#     python tests/reference/make_lme_sparse_data.py
#     Rscript tests/reference/lme_sparse.R
# Writes tests/reference/lme_sparse.json (full precision).
#
# As lme_engine.R: every model is fitted with lmerTest::lmer under several optimisers (as lme4's
# allFit: bobyqa, Nelder_Mead, nloptwrap with lme4's defaults and with tight tolerances); the
# fit with the highest log-likelihood is the reference, each optimiser's log-likelihood and
# elapsed time are stored too.
Sys.setlocale("LC_COLLATE", "en_US.UTF-8")
suppressPackageStartupMessages({
  library(lmerTest)
  library(jsonlite)
})

ref_dir <- "tests/reference"
data_dir <- file.path(ref_dir, "lme_sparse_data")
if (!dir.exists(data_dir)) stop("run from the repository root after make_lme_sparse_data.py")

r_term <- function(x) ifelse(x == "(Intercept)", "Intercept", x)

read_data <- function(name) {
  d <- read.csv(file.path(data_dir, paste0(name, ".csv")), stringsAsFactors = FALSE)
  for (col in c("subject", "item", "session")) {
    if (col %in% names(d)) d[[col]] <- factor(d[[col]])
  }
  d
}

OPTIMISERS <- list(
  bobyqa = lmerControl(optimizer = "bobyqa", optCtrl = list(maxfun = 1e5)),
  Nelder_Mead = lmerControl(optimizer = "Nelder_Mead", optCtrl = list(maxfun = 1e5)),
  nloptwrap = lmerControl(optimizer = "nloptwrap"),
  nloptwrap_tight = lmerControl(optimizer = "nloptwrap",
                                optCtrl = list(ftol_abs = 1e-14, xtol_abs = 1e-12,
                                               xtol_rel = 1e-12, maxeval = 1e5))
)

fit_case <- function(name, data_name, formula, reml) {
  d <- read_data(data_name)
  seconds <- list()
  fits <- lapply(names(OPTIMISERS), function(opt) {
    t0 <- proc.time()[["elapsed"]]
    f <- suppressMessages(suppressWarnings(lmer(as.formula(formula), data = d, REML = reml,
                                                control = OPTIMISERS[[opt]])))
    seconds[[opt]] <<- proc.time()[["elapsed"]] - t0
    f
  })
  names(fits) <- names(OPTIMISERS)
  lls <- sapply(fits, function(f) as.numeric(logLik(f)))
  best <- fits[[which.max(lls)]]
  cf <- coef(summary(best))
  vc <- as.data.frame(VarCorr(best))
  re <- ranef(best)
  ranef_out <- lapply(names(re), function(g) {
    tab <- re[[g]]
    out <- list(level = I(rownames(tab)))
    for (j in seq_along(tab)) out[[r_term(names(tab)[j])]] <- I(unname(tab[[j]]))
    out
  })
  names(ranef_out) <- names(re)
  list(
    name = name, data = paste0("lme_sparse_data/", data_name, ".csv"), formula = formula,
    reml = reml, nobs = nobs(best),
    coefficients = list(term = I(r_term(rownames(cf))), estimate = I(unname(cf[, "Estimate"])),
                        std_error = I(unname(cf[, "Std. Error"])), df = I(unname(cf[, "df"])),
                        statistic = I(unname(cf[, "t value"])),
                        p_value = I(unname(cf[, "Pr(>|t|)"]))),
    theta = I(unname(getME(best, "theta"))),
    theta_names = I(names(getME(best, "theta"))),
    sigma = sigma(best),
    varcorr = list(grp = I(vc$grp), var1 = I(ifelse(is.na(vc$var1), NA, r_term(vc$var1))),
                   var2 = I(ifelse(is.na(vc$var2), NA, r_term(vc$var2))),
                   vcov = I(vc$vcov), sdcor = I(vc$sdcor)),
    ngrps = as.list(ngrps(best)),
    loglik = as.numeric(logLik(best)),
    deviance = if (reml) REMLcrit(best) else deviance(best),
    singular = isSingular(best),
    optimiser = names(fits)[which.max(lls)],
    loglik_by_optimiser = as.list(lls),
    seconds_by_optimiser = seconds,
    ranef = ranef_out
  )
}

cases <- list(
  fit_case("crossed_slope_reml", "crossed", "y ~ x + (1 + x | subject) + (1 | item)", TRUE),
  fit_case("crossed_slope_ml", "crossed", "y ~ x + (1 + x | subject) + (1 | item)", FALSE),
  fit_case("crossed_intercepts_reml", "crossed", "y ~ x + (1 | subject) + (1 | item)", TRUE),
  fit_case("nested_reml", "nested", "y ~ x + (1 | subject/session)", TRUE),
  fit_case("nested_ml", "nested", "y ~ x + (1 | subject/session)", FALSE)
)

out <- list(lme4 = as.character(packageVersion("lme4")),
            lmerTest = as.character(packageVersion("lmerTest")),
            R = R.version.string, cases = cases)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, null = "null", na = "null", pretty = TRUE),
           file.path(ref_dir, "lme_sparse.json"))
