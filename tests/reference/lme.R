# Reference fits for alsstats' mixed models: lme4/lmerTest on tests/reference/lme_data/*.csv.
#
# Run from the repository root, after `python tests/reference/make_lme_data.py`:
#     Rscript tests/reference/lme.R
# Writes tests/reference/lme.json (full precision, jsonlite digits = NA). Every fit uses lmerTest::lmer
# with lme4's default optimiser settings; coefficients come from lmerTest's summary()
# (Satterthwaite df and p). "deviance" is -2 * loglik of the criterion fitted, i.e. deviance(fit)
# for ML fits and REMLcrit(fit) for REML fits.
#
# Each case also carries "tight": the same model refitted with a tightened nloptwrap (BOBYQA)
# stopping rule (TIGHT_CONTROL below, stored verbatim as "control"). lme4's default
# (ftol_abs = xtol_abs = 1e-8) stops up to ~1e-4 short in theta on the (1 + years | subject) fits;
# the tight refit runs to the floating-point noise of the deviance. The script stops if a tight
# fit's log-likelihood is below the default fit's.

suppressPackageStartupMessages({
  library(lmerTest)
  library(jsonlite)
})

ref_dir <- "tests/reference"
if (!dir.exists(file.path(ref_dir, "lme_data"))) stop("run from the repository root")

read_visits <- function(name) {
  d <- read.csv(file.path(ref_dir, "lme_data", paste0(name, ".csv")),
                colClasses = c(subject = "character", group = "character", sex = "character"))
  d$subject <- factor(d$subject)
  d$group <- factor(d$group, levels = c("control", "ALS"))
  d$sex <- factor(d$sex, levels = c("F", "M"))
  d
}

r_term <- function(x) ifelse(x == "(Intercept)", "Intercept", x)

fits <- list()
cases <- list()

TIGHT_CONTROL <- "lmerControl(optCtrl = list(ftol_abs = 1e-14, xtol_abs = 1e-12, xtol_rel = 1e-12))"

coef_table <- function(fit) {
  cf <- coef(summary(fit))
  list(
    term = I(r_term(rownames(cf))),
    estimate = I(unname(cf[, "Estimate"])),
    std_error = I(unname(cf[, "Std. Error"])),
    df = I(unname(cf[, "df"])),
    statistic = I(unname(cf[, "t value"])),
    p_value = I(unname(cf[, "Pr(>|t|)"]))
  )
}

re_cov_matrix <- function(fit) {
  re_cov <- unclass(VarCorr(fit)$subject)
  attr(re_cov, "stddev") <- NULL
  attr(re_cov, "correlation") <- NULL
  re_cov
}

re_cov_list <- function(re_cov) {
  list(terms = I(r_term(colnames(re_cov))),
       matrix = lapply(seq_len(nrow(re_cov)), function(i) I(unname(re_cov[i, ]))))
}

fit_case <- function(name, data_name, formula, reml, ols = FALSE) {
  d <- read_visits(data_name)
  fit <- lmer(as.formula(formula), data = d, REML = reml)
  re_cov <- re_cov_matrix(fit)
  re <- ranef(fit)$subject
  ranef_out <- list(subject = I(rownames(re)))
  for (j in seq_along(re)) ranef_out[[r_term(names(re)[j])]] <- I(unname(re[[j]]))
  ll <- logLik(fit)
  tight <- lmer(as.formula(formula), data = d, REML = reml,
                control = eval(parse(text = TIGHT_CONTROL)))
  if (tight@optinfo$conv$opt != 0) stop(name, ": tight refit did not converge")
  if (as.numeric(logLik(tight)) < as.numeric(ll)) {
    stop(sprintf("%s: tight loglik %.15g < default %.15g", name, logLik(tight), ll))
  }
  case <- list(
    name = name,
    data = paste0("lme_data/", data_name, ".csv"),
    formula = formula,
    reml = reml,
    coefficients = coef_table(fit),
    random_effects_cov = re_cov_list(re_cov),
    residual_variance = sigma(fit)^2,
    loglik = as.numeric(ll),
    aic = AIC(fit),
    bic = BIC(fit),
    deviance = if (reml) REMLcrit(fit) else deviance(fit),
    theta = I(unname(getME(fit, "theta"))),
    singular = isSingular(fit),
    nobs = nobs(fit),
    n_groups = unname(ngrps(fit)[["subject"]]),
    ranef = ranef_out,
    tight = list(
      control = TIGHT_CONTROL,
      coefficients = coef_table(tight),
      random_effects_cov = re_cov_list(re_cov_matrix(tight)),
      residual_variance = sigma(tight)^2,
      loglik = as.numeric(logLik(tight)),
      aic = AIC(tight),
      bic = BIC(tight),
      deviance = if (reml) REMLcrit(tight) else deviance(tight),
      theta = I(unname(getME(tight, "theta"))),
      singular = isSingular(tight)
    )
  )
  if (ols) {
    fixed_only <- lme4::nobars(as.formula(formula))
    ols_cf <- coef(lm(fixed_only, data = d))
    case$ols <- list(term = I(r_term(names(ols_cf))), estimate = I(unname(ols_cf)))
  }
  fits[[name]] <<- fit
  cases[[length(cases) + 1]] <<- case
  invisible(fit)
}

full <- "y ~ group * years + age + sex"
random_parts <- c(ri = "(1 | subject)", rirs = "(1 + years | subject)",
                  slope = "(0 + years | subject)")
for (spec in list(c("balanced", "ri"), c("balanced", "rirs"), c("unbalanced", "ri"),
                  c("unbalanced", "rirs"), c("unbalanced", "slope"),
                  c("singular_slope", "rirs"))) {
  for (reml in c(TRUE, FALSE)) {
    fit_case(sprintf("%s_%s_%s", spec[1], spec[2], if (reml) "reml" else "ml"),
             spec[1], paste(full, "+", random_parts[[spec[2]]]), reml)
  }
}
fit_case("collapse_intercept_ri_reml", "collapse_intercept",
         "y ~ group + age + sex + years + (1 | subject)", TRUE, ols = TRUE)
fit_case("small_ri_reml", "small", "y ~ als * years + (1 | subject)", TRUE)
fit_case("small_ri_ml", "small", "y ~ als * years + (1 | subject)", FALSE)
fit_case("balanced_ri_additive_ml", "balanced",
         "y ~ group + years + age + sex + (1 | subject)", FALSE)

compare <- function(name, small, big) {
  a <- suppressMessages(anova(fits[[small]], fits[[big]]))
  list(name = name, small = small, big = big,
       statistic = a[["Chisq"]][2], df = a[["Df"]][2], p_value = a[["Pr(>Chisq)"]][2])
}
comparisons <- list(
  compare("balanced_random_slope", "balanced_ri_reml", "balanced_rirs_reml"),
  compare("balanced_group_by_years", "balanced_ri_additive_ml", "balanced_ri_ml")
)

out <- list(
  generated_by = "tests/reference/lme.R",
  r_version = R.version.string,
  lme4_version = as.character(packageVersion("lme4")),
  lmerTest_version = as.character(packageVersion("lmerTest")),
  cases = cases,
  comparisons = comparisons
)
target <- file.path(ref_dir, "lme.json")
tmp <- paste0(target, ".tmp")
write_json(out, tmp, digits = NA, auto_unbox = TRUE, pretty = TRUE)
invisible(file.rename(tmp, target))
for (case in cases) {
  cat(sprintf("%-28s singular=%-5s theta=%s  tight-default loglik=%.3g\n", case$name,
              case$singular, paste(signif(case$theta, 4), collapse = ","),
              case$tight$loglik - case$loglik))
}
