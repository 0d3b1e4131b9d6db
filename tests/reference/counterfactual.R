# emmeans' counterfactuals (G-computation) on the shipped example cohort, for
# tests/test_mean_curve_marginal.py. lmer fit: best optimum over bobyqa, Nelder_Mead, nloptwrap.
invisible(Sys.setlocale("LC_COLLATE", "en_US.UTF-8"))
suppressPackageStartupMessages({library(lme4); library(lmerTest); library(emmeans); library(jsonlite)})
here <- dirname(sub("--file=", "", grep("--file=", commandArgs(FALSE), value = TRUE)))
d <- read.csv(file.path(here, "counterfactual_data", "cohort.csv"))
d$group <- factor(d$group, levels = c("control", "ALS"))
d$sex <- factor(d$sex, levels = c("F", "M"))
best_fit <- function(formula) {
  fits <- lapply(c("bobyqa", "Nelder_Mead", "nloptwrap"), function(opt)
    lmer(formula, data = d, REML = TRUE,
         control = lmerControl(optimizer = opt, optCtrl = list(maxfun = 1e5))))
  fits[[which.min(sapply(fits, function(f) -as.numeric(logLik(f))))]]
}
out <- list()
for (name in c("intercept", "slope")) {
  f <- if (name == "intercept") wmh_mm3 ~ group * years + age + sex + (1 | subject)
       else wmh_mm3 ~ group * years + age + sex + (1 + years | subject)
  m <- best_fit(f)
  # emmeans' counterfactual grid is regridded to the observations' predictions, and its
  # lmer.df = "satterthwaite" then fails (lmerTest gets an L of the wrong width): estimates
  # and SEs come from emmeans (asymptotic), Satterthwaite df from lmerTest::contest1D on the
  # average model-matrix row of the data with group set to each level.
  em <- summary(emmeans(m, "group", counterfactuals = "group", lmer.df = "asymptotic"))
  df <- sapply(levels(d$group), function(level) {
    cf <- d; cf$group <- factor(level, levels = levels(d$group))
    L <- colMeans(model.matrix(delete.response(terms(m)), cf))
    contest1D(m, L)$df
  })
  out[[name]] <- list(group = as.character(em$group), estimate = em$emmean,
                      std_error = em$SE, df = unname(df), logLik = as.numeric(logLik(m)))
}
write_json(out, file.path(here, "counterfactual.json"), digits = NA, auto_unbox = FALSE)
