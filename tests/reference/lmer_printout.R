# lmerTest's printed summary() of mixed models, for tests/test_lmer_printout.py.
# Data: the shipped example cohort (alsstats.load_example_cohort(), columns the models use),
# exported to lmer_printout_data/cohort.csv, and lme4's sleepstudy (exported beside it).
# Each model is fitted with bobyqa, Nelder_Mead and nloptwrap at tight tolerances and the fit
# with the lowest criterion (REML criterion or deviance) is printed, as allFit's best. The fit's
# call is the one a user would type, lmer(<formula>, data = visits), so `Data:` shows `visits`
# and no `Control:` line is printed (the control list of the winning optimiser is dropped from
# the stored call; it is recorded in the JSON as `optimizer`).
# Run from the repository root: Rscript tests/reference/lmer_printout.R
invisible(Sys.setlocale("LC_COLLATE", "en_US.UTF-8"))
suppressPackageStartupMessages({library(lme4); library(lmerTest); library(jsonlite)})
options(width = 80, digits = 7)
here <- dirname(sub("--file=", "", grep("--file=", commandArgs(FALSE), value = TRUE)))
out_dir <- file.path(here, "lmer_printout_data")

visits <- read.csv(file.path(out_dir, "cohort.csv"))
visits$group <- factor(visits$group, levels = c("control", "ALS"))
visits$sex <- factor(visits$sex, levels = c("F", "M"))
patients <- visits[visits$group == "ALS", ]
write.csv(sleepstudy, file.path(out_dir, "sleepstudy.csv"), row.names = FALSE)

controls <- list(
  bobyqa = lmerControl(optimizer = "bobyqa", optCtrl = list(rhoend = 1e-12, maxfun = 1e5)),
  Nelder_Mead = lmerControl(optimizer = "Nelder_Mead",
                            optCtrl = list(FtolAbs = 1e-15, FtolRel = 1e-15, XtolRel = 1e-12,
                                           maxfun = 1e5)),
  nloptwrap = lmerControl(optimizer = "nloptwrap",
                          optCtrl = list(ftol_abs = 1e-14, xtol_abs = 1e-12, xtol_rel = 1e-12,
                                         maxeval = 1e5)))

best_fit <- function(formula_text, data_name, reml) {
  fits <- lapply(names(controls), function(opt) {
    cl <- call("lmer", str2lang(formula_text), data = as.name(data_name), REML = reml,
               control = controls[[opt]])
    suppressMessages(suppressWarnings(eval(cl)))
  })
  names(fits) <- names(controls)
  default <- suppressMessages(suppressWarnings(eval(
    call("lmer", str2lang(formula_text), data = as.name(data_name), REML = reml))))
  crit <- sapply(fits, function(f) -2 * as.numeric(logLik(f)))
  best <- fits[[which.min(crit)]]
  best@call$control <- NULL
  best@call$REML <- if (reml) NULL else FALSE
  list(model = best, optimizer = names(fits)[which.min(crit)], criteria = as.list(crit),
       default_criterion = -2 * as.numeric(logLik(default)))
}

printed <- function(x) {
  # stdout and messages interleaved, as a console shows them
  lines <- character()
  con <- textConnection("lines", "w", local = TRUE)
  sink(con)
  sink(con, type = "message")
  tryCatch(print(x), finally = {
    sink(type = "message")
    sink()
    close(con)
  })
  lines
}

cases <- list(
  ri_reml = list(formula = "wmh_mm3 ~ group * years + age + sex + (1 | subject)",
                 data = "visits", reml = TRUE),
  rirs_ml = list(formula = "wmh_mm3 ~ group * years + age + sex + (1 + years | subject)",
                 data = "visits", reml = FALSE),
  site_rirs_reml = list(
    formula = "wmh_mm3 ~ group * years + age + sex + (1 | site) + (1 + years | subject)",
    data = "visits", reml = TRUE),
  phenotype_reml = list(
    formula = "alsfrs_r ~ phenotype * years + age + sex + site + (1 + years | subject)",
    data = "patients", reml = TRUE),
  singular_reml = list(formula = "flair_cst ~ group * years + (1 + years | subject)",
                       data = "visits", reml = TRUE),
  sleepstudy_reml = list(formula = "Reaction ~ Days + (Days | Subject)",
                         data = "sleepstudy", reml = TRUE),
  uncorrelated_reml = list(formula = "wmh_mm3 ~ group * years + (years || subject)",
                           data = "visits", reml = TRUE),
  aliased_reml = list(formula = "wmh_mm3 ~ group * years + age + I(2 * age) + (1 | subject)",
                      data = "visits", reml = TRUE),
  many_fixed_ml = list(
    formula = "alsfrs_r ~ phenotype * years + sex + site * years + age + (1 | subject)",
    data = "patients", reml = FALSE),
  sleepstudy_quadratic_reml = list(formula = "Reaction ~ Days + (Days + I(Days^2) | Subject)",
                                   data = "sleepstudy", reml = TRUE),
  ri_reml_kr = list(formula = "wmh_mm3 ~ group * years + age + sex + (1 | subject)",
                    data = "visits", reml = TRUE, ddf = "Kenward-Roger"))

out <- list(R = R.version.string, lme4 = as.character(packageVersion("lme4")),
            lmerTest = as.character(packageVersion("lmerTest")),
            collation = Sys.getlocale("LC_COLLATE"), cases = list())
for (name in names(cases)) {
  case <- cases[[name]]
  fit <- best_fit(case$formula, case$data, case$reml)
  ddf <- if (is.null(case$ddf)) "Satterthwaite" else case$ddf
  lines <- printed(summary(fit$model, ddf = ddf))
  out$cases[[name]] <- list(
    formula = case$formula, data = case$data, reml = case$reml, ddf = ddf,
    optimizer = fit$optimizer, criteria = fit$criteria,
    default_criterion = fit$default_criterion,
    theta = unname(getME(fit$model, "theta")), singular = isSingular(fit$model),
    lines = lines)
}
# R's number formatting on its own, for the printer's building blocks: format() of single
# numbers and of groups of 5 (one common layout), round(), format.pval() and abbreviate()
set.seed(20261130)
x <- c(signif(rnorm(60) * 10^sample(-7:7, 60, TRUE), sample(1:9, 60, TRUE)), 0, -4e-4, 9996,
       99999.5, 0.00049999, 123456789, 1e-20, 2.675, 0.285, -0.125, 1e5, 123456.75, 0.1 + 0.2, 1234.5678, -98.76)
groups <- split(x, rep(seq_len(length(x) / 5), each = 5))
p <- c(0.5, 0.04999, 1e-4, 0.00012345, 3e-17, 0.0666, 1, 2.2e-16, 1.5e-8, 0.001)
names_ <- c("(Intercept)", "groupALS", "groupALS:years", "phenotypeflail_arm",
            "phenotypeflail_arm:years", "phenotypePLS:years", "sexM", "I(years^2)",
            "poly(years, 2)1", "poly(years, 2)2", "siteEDM", "siteMTL")
out$formatting <- list(
  x = sprintf("%.17g", x),
  single = lapply(c(2, 4, 7), function(d) list(digits = d, text = sapply(x, format, digits = d))),
  grouped = lapply(c(3, 4, 7), function(d)
    list(digits = d, text = unname(lapply(groups, function(g) format(g, digits = d))))),
  nsmall = unname(lapply(groups, function(g) format(round(g, 3), nsmall = 3))),
  round = lapply(0:4, function(d) list(digits = d, value = sprintf("%.17g", round(x, d)))),
  pvalues = list(p = p, digits3 = format.pval(p, digits = 3, eps = .Machine$double.eps),
                 large = format.pval(p[c(1, 2, 5)], digits = 3, eps = .Machine$double.eps)),
  abbreviate = list(names = names_, min6 = unname(abbreviate(names_, minlength = 6)),
                    min11 = unname(abbreviate(names_, minlength = 11))))
write_json(out, file.path(here, "lmer_printout.json"), digits = NA, auto_unbox = TRUE,
           pretty = TRUE)
