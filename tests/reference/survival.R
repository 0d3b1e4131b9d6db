# Reference numbers for alsstats' survival module (tests/test_survival*.py read the JSON).
# Run from the repository root, after `python tests/reference/make_survival_data.py`:
#   Rscript tests/reference/survival.R
# Writes tests/reference/survival.json (written to a temporary file, then renamed).
suppressPackageStartupMessages({
  library(survival)
  library(jsonlite)
})

dir <- "tests/reference/survival_data"
subj <- read.csv(file.path(dir, "subjects.csv"), stringsAsFactors = FALSE)
visits <- read.csv(file.path(dir, "visits.csv"), stringsAsFactors = FALSE)
km_small <- read.csv(file.path(dir, "km_small.csv"))
km_flat <- read.csv(file.path(dir, "km_flat.csv"))

cox_out <- function(fit) {
  s <- summary(fit)
  cf <- s$coefficients
  zph <- cox.zph(fit)
  out <- list(
    term = rownames(cf),
    estimate = unname(cf[, "coef"]),
    std_error = unname(cf[, "se(coef)"]),
    statistic = unname(cf[, "z"]),
    p_value = unname(cf[, "Pr(>|z|)"]),
    ci_low = unname(log(s$conf.int[, "lower .95"])),
    ci_high = unname(log(s$conf.int[, "upper .95"])),
    loglik = unname(fit$loglik),
    concordance = unname(fit$concordance["concordance"]),
    n = fit$n, n_events = fit$nevent, iterations = fit$iter,
    lr_test = 2 * (fit$loglik[2] - fit$loglik[1]), wald_test = unname(fit$wald.test),
    score_test = unname(fit$score), df = length(fit$coefficients),
    zph_term = rownames(zph$table),
    zph_chisq = unname(zph$table[, "chisq"]),
    zph_df = unname(zph$table[, "df"]),
    zph_p = unname(zph$table[, "p"])
  )
  if (!is.null(fit$naive.var)) {
    out$robust_se <- unname(cf[, "robust se"])
    out$naive_se <- unname(cf[, "se(coef)"])
  }
  out
}

f3 <- Surv(survival_months, event) ~ wmh_base + age + sex
cox <- list(
  efron = cox_out(coxph(f3, data = subj, ties = "efron")),
  breslow = cox_out(coxph(f3, data = subj, ties = "breslow")),
  efron_site = cox_out(coxph(update(f3, . ~ . + site), data = subj, ties = "efron")),
  breslow_site = cox_out(coxph(update(f3, . ~ . + site), data = subj, ties = "breslow")),
  efron_strata = cox_out(coxph(update(f3, . ~ . + strata(site)), data = subj, ties = "efron")),
  breslow_strata = cox_out(coxph(update(f3, . ~ . + strata(site)), data = subj, ties = "breslow")),
  efron_robust = cox_out(coxph(f3, data = subj, ties = "efron", robust = TRUE)),
  breslow_robust = cox_out(coxph(f3, data = subj, ties = "breslow", robust = TRUE))
)

# Time-varying WMH: (start, stop] intervals in months built by R's own tmerge (independent of
# alsstats' interval builder). A visit's value holds from that visit until the next one.
visits$months <- visits$years * 12
base <- subj[, c("subject", "age", "sex", "survival_months", "event")]
tv <- tmerge(base, base, id = subject, death = event(survival_months, event))
tv <- tmerge(tv, visits, id = subject, wmh_mm3 = tdc(months, wmh_mm3))
ftv <- Surv(tstart, tstop, death) ~ wmh_mm3 + age + sex
cox$tv_efron <- cox_out(coxph(ftv, data = tv, ties = "efron"))
cox$tv_breslow <- cox_out(coxph(ftv, data = tv, ties = "breslow"))
cox$tv_efron_robust <- cox_out(coxph(update(ftv, . ~ . + cluster(subject)), data = tv,
                                     ties = "efron"))
tv_intervals <- list(subject = tv$subject, start = tv$tstart, stop = tv$tstop,
                     event = tv$death, wmh_mm3 = tv$wmh_mm3)

km_out <- function(fit) {
  s <- summary(fit, censored = TRUE)
  tab <- list(time = fit$time, n_risk = fit$n.risk, n_event = fit$n.event,
              n_censor = fit$n.censor, survival = fit$surv, std_err_log = fit$std.err,
              ci_low = fit$lower, ci_high = fit$upper)
  if (!is.null(fit$strata)) tab$group <- rep(sub(".*=", "", names(fit$strata)), fit$strata)
  tbl <- summary(fit)$table
  if (is.null(dim(tbl))) tbl <- t(as.matrix(tbl))
  med <- list(group = if (is.null(fit$strata)) "all" else sub(".*=", "", rownames(tbl)),
              median = unname(tbl[, "median"]), ci_low = unname(tbl[, "0.95LCL"]),
              ci_high = unname(tbl[, "0.95UCL"]))
  list(table = tab, median = med, conf_type = fit$conf.type)
}
fs <- Surv(survival_months, event) ~ 1
km <- list(
  log = km_out(survfit(fs, data = subj)),
  log_log = km_out(survfit(fs, data = subj, conf.type = "log-log")),
  plain = km_out(survfit(fs, data = subj, conf.type = "plain")),
  phenotype = km_out(survfit(Surv(survival_months, event) ~ phenotype, data = subj)),
  phenotype_log_log = km_out(survfit(Surv(survival_months, event) ~ phenotype, data = subj,
                                     conf.type = "log-log")),
  small = km_out(survfit(Surv(time, event) ~ 1, data = km_small)),
  flat = km_out(survfit(Surv(time, event) ~ 1, data = km_flat)),
  flat_log_log = km_out(survfit(Surv(time, event) ~ 1, data = km_flat, conf.type = "log-log"))
)

lr_out <- function(sd) {
  df <- sum(sd$exp > 0) - 1
  list(statistic = sd$chisq, df = df, p_value = pchisq(sd$chisq, df, lower.tail = FALSE),
       group = sub(".*=", "", names(sd$n)), n = unname(as.vector(sd$n)),
       observed = unname(sd$obs), expected = unname(sd$exp))
}
logrank <- list(
  phenotype = lr_out(survdiff(Surv(survival_months, event) ~ phenotype, data = subj)),
  sex = lr_out(survdiff(Surv(survival_months, event) ~ sex, data = subj))
)

# R's own lung data (NCCTG lung cancer), exported beside the JSON so the tests need no R:
# event = status - 1 (R codes 1 = censored, 2 = dead); ph.ecog is written as ph_ecog. The
# concordance of a stratified Cox model whose covariate rows repeat (same age and ph.ecog)
# checks that equal rows give equal linear predictors (R counts them as tied pairs).
lung_csv <- with(survival::lung, data.frame(time = time, event = status - 1, age = age,
                                            sex = sex, ph_ecog = ph.ecog))
write.csv(lung_csv, file.path(dir, "lung.csv"), row.names = FALSE)
lung_fit <- coxph(Surv(time, event) ~ age + ph_ecog + strata(sex), data = lung_csv)
lung_cf <- summary(lung_fit)$coefficients
lung <- list(
  formula = "Surv(time, event) ~ age + ph_ecog + strata(sex)",
  term = rownames(lung_cf), estimate = unname(lung_cf[, "coef"]),
  std_error = unname(lung_cf[, "se(coef)"]), n = lung_fit$n, n_events = lung_fit$nevent,
  concordance = unname(lung_fit$concordance["concordance"]),
  concordant = unname(lung_fit$concordance["concordant"]),
  discordant = unname(lung_fit$concordance["discordant"]),
  tied_x = unname(lung_fit$concordance["tied.x"]),
  tied_y = unname(lung_fit$concordance["tied.y"])
)

out <- list(
  r_version = R.version.string,
  survival_version = as.character(packageVersion("survival")),
  cox = cox, km = km, logrank = logrank, tv_intervals = tv_intervals, lung = lung
)
target <- "tests/reference/survival.json"
tmp <- paste0(target, ".tmp")
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, na = "null", pretty = FALSE), tmp)
file.rename(tmp, target)
