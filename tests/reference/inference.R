# Reference numbers for alsstats' inference: Kenward-Roger (pbkrtest via lmerTest), F tables
# (lmerTest anova type 1/2/3, Satterthwaite and Kenward-Roger), emmeans/pairs/emtrends,
# clubSandwich coef_test (CR2/CR1/CR0, Satterthwaite) and p.adjust.
#
# Run from the repository root (after `python tests/reference/make_lme_data.py`, whose
# unbalanced.csv is the CALSNIC-like random-slope cohort used here):
#     Rscript tests/reference/inference.R
# Writes tests/reference/inference_data/{sleepstudy,orthodont,bodyweight}.csv (R's data sets, so CI
# needs no R) and tests/reference/inference.json (full precision).
#
# Every model is fitted with three optimisers (bobyqa, Nelder_Mead, nloptwrap with tight tolerances,
# as allFit) and the fit with the best REML criterion is kept; its theta is stored.

Sys.setlocale("LC_COLLATE", "en_US.UTF-8")
suppressPackageStartupMessages({
  library(lmerTest)
  library(pbkrtest)
  library(emmeans)
  library(clubSandwich)
  library(nlme)
  library(jsonlite)
})

ref_dir <- "tests/reference"
if (!dir.exists(file.path(ref_dir, "lme_data"))) stop("run from the repository root")
out_dir <- file.path(ref_dir, "inference_data")
dir.create(out_dir, showWarnings = FALSE)

unordered <- function(x) factor(as.character(x), levels = levels(x))

sleep <- lme4::sleepstudy
sleep$Subject <- unordered(sleep$Subject)
ortho <- as.data.frame(nlme::Orthodont)
ortho$Subject <- unordered(ortho$Subject)
ortho$Sex <- unordered(ortho$Sex)
body <- as.data.frame(nlme::BodyWeight)
body$Rat <- unordered(body$Rat)
body$Diet <- unordered(body$Diet)
write.csv(sleep, file.path(out_dir, "sleepstudy.csv"), row.names = FALSE)
write.csv(ortho, file.path(out_dir, "orthodont.csv"), row.names = FALSE)
write.csv(body, file.path(out_dir, "bodyweight.csv"), row.names = FALSE)
calsnic <- read.csv(file.path(ref_dir, "lme_data", "unbalanced.csv"),
                    colClasses = c(subject = "character", group = "character", sex = "character"))
calsnic$subject <- factor(calsnic$subject)
calsnic$group <- factor(calsnic$group, levels = c("control", "ALS"))
calsnic$sex <- factor(calsnic$sex, levels = c("F", "M"))

controls <- list(
  bobyqa = lmerControl(optimizer = "bobyqa", optCtrl = list(maxfun = 1e5, rhoend = 1e-12)),
  Nelder_Mead = lmerControl(optimizer = "Nelder_Mead",
                            optCtrl = list(maxfun = 1e5, FtolAbs = 1e-14, FtolRel = 1e-15,
                                           XtolRel = 1e-12)),
  nloptwrap = lmerControl(optCtrl = list(ftol_abs = 1e-14, xtol_abs = 1e-12, xtol_rel = 1e-12))
)

best_fit <- function(formula, data) {
  fits <- lapply(controls, function(ctl) lmerTest::lmer(formula, data = data, REML = TRUE,
                                                        control = ctl))
  crit <- vapply(fits, REMLcrit, numeric(1))
  fits[[which.min(crit)]]
}

r_term <- function(x) ifelse(x == "(Intercept)", "Intercept", x)
col <- function(x) I(unname(x))

coef_block <- function(fit, ddf) {
  cf <- coef(summary(fit, ddf = ddf))
  list(term = I(r_term(rownames(cf))), estimate = col(cf[, "Estimate"]),
       std_error = col(cf[, "Std. Error"]), df = col(cf[, "df"]),
       statistic = col(cf[, "t value"]), p_value = col(cf[, "Pr(>|t|)"]))
}

anova_block <- function(fit, type, ddf) {
  a <- anova(fit, type = type, ddf = ddf)
  list(term = I(rownames(a)), sum_sq = col(a[["Sum Sq"]]), mean_sq = col(a[["Mean Sq"]]),
       num_df = col(a[["NumDF"]]), den_df = col(a[["DenDF"]]), f_value = col(a[["F value"]]),
       p_value = col(a[["Pr(>F)"]]))
}

fit_info <- function(fit) {
  list(formula = paste(deparse(formula(fit)), collapse = " "), theta = col(getME(fit, "theta")),
       reml_criterion = REMLcrit(fit), sigma2 = sigma(fit)^2,
       vcov_adj = unname(as.matrix(pbkrtest::vcovAdj(fit))),
       kr = coef_block(fit, "Kenward-Roger"), satterthwaite = coef_block(fit, "Satterthwaite"))
}

emm_block <- function(x) {
  s <- as.data.frame(summary(x, infer = c(TRUE, TRUE)))
  s[] <- lapply(s, function(v) if (is.factor(v)) as.character(v) else v)
  lapply(s, col)
}

out <- list()

m_sleep <- best_fit(Reaction ~ Days + (Days | Subject), sleep)
out$sleepstudy <- fit_info(m_sleep)

m_ortho <- best_fit(distance ~ age * Sex + (age | Subject), ortho)
out$orthodont <- fit_info(m_ortho)
out$orthodont$levels <- list(Sex = I(levels(ortho$Sex)))
out$orthodont$anova <- list()
for (type in 1:3) for (ddf in c("Satterthwaite", "Kenward-Roger"))
  out$orthodont$anova[[paste0("type", type, "_", ddf)]] <- anova_block(m_ortho, type, ddf)
# a general contrast (lmerTest contest), 2 rows
L <- rbind(c(0, 1, 0, 0), c(0, 0, 1, 1))
out$orthodont$contest_L <- L
out$orthodont$contest <- list()
out$orthodont$coef_test <- list()
for (ddf in c("Satterthwaite", "Kenward-Roger")) {
  ct <- contest(m_ortho, L, ddf = ddf)
  out$orthodont$contest[[ddf]] <- lapply(as.list(ct), unname)
}
for (type in c("CR2", "CR1", "CR0")) {
  ct <- coef_test(m_ortho, vcov = type, test = "Satterthwaite")
  out$orthodont$coef_test[[type]] <- list(term = I(r_term(as.character(ct$Coef))),
    estimate = col(ct$beta), std_error = col(ct$SE), statistic = col(ct$tstat),
    df = col(ct$df_Satt), p_value = col(ct$p_Satt))
}

m_body <- best_fit(weight ~ Time * Diet + (Time | Rat), body)
out$bodyweight <- fit_info(m_body)
for (k in c("anova", "emmeans", "emmeans_at", "emmeans_diet_time", "emmeans_time_averaged", "pairs_tukey", "pairs_holm", "trt_vs_ctrl", "emtrends", "emtrends_pairs")) out$bodyweight[[k]] <- list()
out$bodyweight$levels <- list(Diet = I(levels(body$Diet)))
out$bodyweight$time_mean <- mean(body$Time)
for (type in 1:3) for (ddf in c("Satterthwaite", "Kenward-Roger"))
  out$bodyweight$anova[[paste0("type", type, "_", ddf)]] <- anova_block(m_body, type, ddf)
for (ddf in c("satterthwaite", "kenward-roger")) {
  emm <- emmeans(m_body, ~ Diet, lmer.df = ddf)
  out$bodyweight$emmeans[[ddf]] <- emm_block(emm)
  out$bodyweight$emmeans_at[[ddf]] <- emm_block(emmeans(m_body, ~ Diet, at = list(Time = 20),
                                                        lmer.df = ddf))
  out$bodyweight$pairs_tukey[[ddf]] <- emm_block(pairs(emm, adjust = "tukey"))
  out$bodyweight$pairs_holm[[ddf]] <- emm_block(pairs(emm, adjust = "holm"))
  out$bodyweight$trt_vs_ctrl[[ddf]] <- emm_block(contrast(emm, "trt.vs.ctrl", adjust = "none"))
  out$bodyweight$emmeans_diet_time[[ddf]] <- emm_block(
    emmeans(m_body, ~ Diet * Time, at = list(Time = c(10, 40)), lmer.df = ddf))
  out$bodyweight$emmeans_time_averaged[[ddf]] <- emm_block(
    emmeans(m_body, ~ Diet, at = list(Time = c(1, 64)), lmer.df = ddf))
  et <- emtrends(m_body, ~ Diet, var = "Time", lmer.df = ddf)
  out$bodyweight$emtrends[[ddf]] <- emm_block(et)
  out$bodyweight$emtrends_pairs[[ddf]] <- emm_block(pairs(et, adjust = "tukey"))
}

m_cal <- best_fit(y ~ group * years + age + sex + (1 + years | subject), calsnic)
out$calsnic <- fit_info(m_cal)
out$calsnic$data <- "lme_data/unbalanced.csv"
out$calsnic$anova <- list()
out$calsnic$levels <- list(group = I(c("control", "ALS")), sex = I(c("F", "M")))
out$calsnic$emmeans_group_sex <- list()
out$calsnic$pairs_group_sex <- list()
out$calsnic$emmeans_group_proportional <- list()
for (ddf in c("satterthwaite", "kenward-roger")) {
  emm <- emmeans(m_cal, ~ group * sex, lmer.df = ddf)
  out$calsnic$emmeans_group_sex[[ddf]] <- emm_block(emm)
  out$calsnic$pairs_group_sex[[ddf]] <- emm_block(pairs(emm, adjust = "tukey"))
  out$calsnic$emmeans_group_proportional[[ddf]] <- emm_block(
    emmeans(m_cal, ~ group, weights = "proportional", lmer.df = ddf))
}
for (type in c(3)) for (ddf in c("Satterthwaite", "Kenward-Roger"))
  out$calsnic$anova[[paste0("type", type, "_", ddf)]] <- anova_block(m_cal, type, ddf)

# Formula functions inside terms: poly() (a numeric matrix term) and factor() of a 0/1 column
# (fitted with the data named in the call, so that emmeans can rebuild the grid)
best_fit_named <- function(formula, data_name) {
  fits <- lapply(controls, function(ctl) eval(bquote(lmerTest::lmer(
    .(formula), data = .(as.name(data_name)), REML = TRUE, control = .(ctl))), globalenv()))
  fits[[which.min(vapply(fits, REMLcrit, numeric(1)))]]
}
m_poly <- best_fit_named(y ~ group * poly(years, 2) + age + (1 | subject), "calsnic")
m_fac <- best_fit_named(y ~ factor(als) * years + age + (1 + years | subject), "calsnic")
out$calsnic_terms <- list(poly = list(formula = paste(deparse(formula(m_poly)), collapse = " "),
                                      theta = col(getME(m_poly, "theta")), anova = list(),
                                      emmeans = list(), emtrends = list()),
                          factor = list(formula = paste(deparse(formula(m_fac)), collapse = " "),
                                        theta = col(getME(m_fac, "theta")), anova = list()))
for (ddf in c("Satterthwaite", "Kenward-Roger")) {
  out$calsnic_terms$poly$anova[[ddf]] <- anova_block(m_poly, 3, ddf)
  out$calsnic_terms$factor$anova[[ddf]] <- anova_block(m_fac, 3, ddf)
}
for (ddf in c("satterthwaite", "kenward-roger")) {
  out$calsnic_terms$poly$emmeans[[ddf]] <- emm_block(emmeans(m_poly, ~ group, lmer.df = ddf))
  out$calsnic_terms$poly$emtrends[[ddf]] <- emm_block(emtrends(m_poly, ~ group, var = "years",
                                                               lmer.df = ddf))
}

# Several random terms (for the dense Kenward-Roger path; alsstats' engine may not fit these
# yet, so the tests rebuild the model from R's variance components): uncorrelated intercept and
# slope in sleepstudy, crossed plate and sample in Penicillin.
penicillin <- lme4::Penicillin
write.csv(penicillin, file.path(out_dir, "penicillin.csv"), row.names = FALSE)
multi_info <- function(fit) {
  vc <- VarCorr(fit)
  list(formula = paste(deparse(formula(fit)), collapse = " "),
       blocks = lapply(seq_along(vc), function(i) list(grp = names(vc)[i],
                                                      cov = unname(as.matrix(vc[[i]])[, , drop = FALSE]))),
       sigma2 = sigma(fit)^2, beta = col(fixef(fit)), vcov = unname(as.matrix(vcov(fit))),
       vcov_adj = unname(as.matrix(pbkrtest::vcovAdj(fit))),
       kr = coef_block(fit, "Kenward-Roger"))
}
out$multi <- list(
  sleepstudy_uncorrelated = multi_info(best_fit(Reaction ~ Days + (1 | Subject) + (0 + Days | Subject), sleep)),
  penicillin = multi_info(best_fit(diameter ~ 1 + (1 | plate) + (1 | sample), penicillin)))

set.seed(12)
p <- c(runif(12)^3, 0.5, 0.5, 1e-4)
out$p_adjust <- list(p = p)
for (method in p.adjust.methods) out$p_adjust[[method]] <- p.adjust(p, method = method)

out$versions <- list(R = R.version.string, lme4 = as.character(packageVersion("lme4")),
                     lmerTest = as.character(packageVersion("lmerTest")),
                     pbkrtest = as.character(packageVersion("pbkrtest")),
                     emmeans = as.character(packageVersion("emmeans")),
                     clubSandwich = as.character(packageVersion("clubSandwich")))
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, matrix = "rowmajor", pretty = FALSE),
           file.path(ref_dir, "inference.json"))
