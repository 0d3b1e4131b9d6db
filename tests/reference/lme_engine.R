# Reference fits for alsstats' general mixed-model engine (issue 11): several random-effect terms,
# boundary fits, exact Satterthwaite. Run from the repository root, after
#     python tests/reference/make_lme_engine_data.py
#     Rscript tests/reference/lme_engine.R
# Writes tests/reference/lme_engine_data/<name>.csv for R's own data sets and
# tests/reference/lme_engine.json (full precision).
#
# Every model is fitted with lmerTest::lmer under several optimisers, as lme4's allFit does
# (bobyqa, Nelder_Mead, nloptwrap with lme4's defaults, nloptwrap with tight tolerances); the fit
# with the highest log-likelihood is the reference ("best"), and each optimiser's log-likelihood
# is stored too. Coefficients are lmerTest's summary() (Satterthwaite df) of the best fit.
Sys.setlocale("LC_COLLATE", "en_US.UTF-8")
suppressPackageStartupMessages({
  library(lmerTest)
  library(jsonlite)
  library(nlme, include.only = character(0))
})

ref_dir <- "tests/reference"
data_dir <- file.path(ref_dir, "lme_engine_data")
if (!dir.exists(data_dir)) stop("run from the repository root after make_lme_engine_data.py")

r_term <- function(x) ifelse(x == "(Intercept)", "Intercept", x)

# ---------------------------------------------------------------- R's own data sets to CSV
lob <- as.data.frame(datasets::Loblolly)
lob$Seed <- as.character(lob$Seed)
write.csv(lob, file.path(data_dir, "loblolly.csv"), row.names = FALSE)
sleep <- as.data.frame(lme4::sleepstudy)
sleep$Days2 <- sleep$Days^2
sleep$Subject <- as.character(sleep$Subject)
write.csv(sleep, file.path(data_dir, "sleepstudy.csv"), row.names = FALSE)
pen <- as.data.frame(lme4::Penicillin)
pen$plate <- as.character(pen$plate); pen$sample <- as.character(pen$sample)
write.csv(pen, file.path(data_dir, "penicillin.csv"), row.names = FALSE)
pas <- as.data.frame(lme4::Pastes)
pas <- pas[, c("strength", "batch", "cask")]
pas$batch <- as.character(pas$batch); pas$cask <- as.character(pas$cask)
write.csv(pas, file.path(data_dir, "pastes.csv"), row.names = FALSE)
mac <- as.data.frame(nlme::Machines)
mac$Worker <- as.character(mac$Worker); mac$Machine <- as.character(mac$Machine)
write.csv(mac, file.path(data_dir, "machines.csv"), row.names = FALSE)

read_data <- function(name) {
  d <- read.csv(file.path(data_dir, paste0(name, ".csv")), stringsAsFactors = FALSE)
  for (col in c("Seed", "Subject", "plate", "sample", "batch", "cask", "Worker", "Machine",
                "subject", "site")) {
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
  fits <- lapply(OPTIMISERS, function(ctrl) {
    suppressMessages(suppressWarnings(lmer(as.formula(formula), data = d, REML = reml,
                                           control = ctrl)))
  })
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
    name = name, data = paste0("lme_engine_data/", data_name, ".csv"), formula = formula,
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
    ranef = ranef_out
  )
}

cases <- list(
  fit_case("loblolly_reml", "loblolly", "height ~ age + (age | Seed)", TRUE),
  fit_case("loblolly_ml", "loblolly", "height ~ age + (age | Seed)", FALSE),
  fit_case("sleep_quad_reml", "sleepstudy", "Reaction ~ Days + Days2 + (Days + Days2 | Subject)", TRUE),
  fit_case("sleep_quad_ml", "sleepstudy", "Reaction ~ Days + Days2 + (Days + Days2 | Subject)", FALSE),
  fit_case("penicillin", "penicillin", "diameter ~ 1 + (1 | plate) + (1 | sample)", TRUE),
  fit_case("pastes", "pastes", "strength ~ 1 + (1 | batch/cask)", TRUE),
  fit_case("machines", "machines", "score ~ Machine + (1 | Worker/Machine)", TRUE),
  fit_case("sleep_uncorrelated", "sleepstudy", "Reaction ~ Days + (Days || Subject)", TRUE),
  fit_case("sleep_two_terms", "sleepstudy", "Reaction ~ Days + (1 | Subject) + (0 + Days | Subject)", TRUE),
  fit_case("calsnic_sites_reml", "calsnic_sites",
           "wmh ~ als * years + age + male + (1 | site) + (1 + years | subject)", TRUE),
  fit_case("calsnic_sites_ml", "calsnic_sites",
           "wmh ~ als * years + age + male + (1 | site) + (1 + years | subject)", FALSE),
  fit_case("calsnic_subject_ml", "calsnic_sites",
           "wmh ~ als * years + age + male + (1 + years | subject)", FALSE),
  fit_case("calsnic_boundary_ml", "calsnic_boundary",
           "wmh ~ als * years + age + male + (1 + years | subject)", FALSE),
  fit_case("calsnic_boundary_reml", "calsnic_boundary",
           "wmh ~ als * years + age + male + (1 + years | subject)", TRUE)
)

# likelihood-ratio tests as lme4's anova (REML fits refitted by ML)
compare_case <- function(name, data_name, small, big) {
  d <- read_data(data_name)
  a <- suppressMessages(lmer(as.formula(small), data = d, REML = TRUE,
                             control = OPTIMISERS$nloptwrap_tight))
  b <- suppressMessages(lmer(as.formula(big), data = d, REML = TRUE,
                             control = OPTIMISERS$nloptwrap_tight))
  tab <- suppressMessages(anova(a, b))
  list(name = name, data = paste0("lme_engine_data/", data_name, ".csv"), small = small,
       big = big, statistic = tab$Chisq[2], df = tab$Df[2], p_value = tab[["Pr(>Chisq)"]][2],
       loglik = I(as.numeric(tab$logLik)))
}
comparisons <- list(
  compare_case("site_term", "calsnic_sites",
               "wmh ~ als * years + age + male + (1 + years | subject)",
               "wmh ~ als * years + age + male + (1 | site) + (1 + years | subject)"),
  compare_case("penicillin_sample", "penicillin", "diameter ~ 1 + (1 | plate)",
               "diameter ~ 1 + (1 | plate) + (1 | sample)")
)

out <- list(lme4 = as.character(packageVersion("lme4")),
            lmerTest = as.character(packageVersion("lmerTest")),
            R = R.version.string, cases = cases, comparisons = comparisons)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, null = "null", na = "null", pretty = TRUE),
           file.path(ref_dir, "lme_engine.json"))
