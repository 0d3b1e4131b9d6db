# Reference outputs for alsstats' formula layer (alsstats/formula): R's term names, model
# matrices, bases and estimates for formulas with I(), poly(), ns(), bs(), factor(), scale(),
# log(), (a + b)^2, Surv(time, status == 2), strata(), dotted names and a three-level
# phenotype factor, on data shipped with R (lme4's sleepstudy, nlme's Orthodont, survival's
# lung and pbc, mtcars) and one simulated cohort.
#
# Run from the repository root:
#     Rscript tests/reference/formula.R
# Writes tests/reference/formula_data/*.csv (the data, so CI needs no R) and
# tests/reference/formula.json. Every model is fitted to the data as read back from those CSVs,
# so R and Python see identical doubles and identical (text) columns. Mixed models: lmer REML,
# best log-likelihood over bobyqa, Nelder_Mead and nloptwrap with tight tolerances (as allFit).
# Cox models: coxph, Efron ties.

suppressPackageStartupMessages({
  library(lme4)
  library(nlme, exclude = "lmList")
  library(survival)
  library(splines)
  library(jsonlite)
})

ref_dir <- "tests/reference"
data_dir <- file.path(ref_dir, "formula_data")
if (!dir.exists(ref_dir)) stop("run from the repository root")
dir.create(data_dir, showWarnings = FALSE)

# ---------------------------------------------------------------- collation
# R sorts text by the collation of LC_COLLATE. en_US.UTF-8 is the English UTF-8 locale the
# project asks for; where it is not installed (this machine: only C, C.utf8, POSIX) R still
# collates with ICU, and icuSetCollate(locale = "en_US") makes that English explicitly.
collation <- "none"
for (loc in c("en_US.UTF-8", "en_GB.UTF-8")) {
  if (nzchar(suppressWarnings(Sys.setlocale("LC_COLLATE", loc)))) {
    collation <- loc
    break
  }
}
if (collation == "none") {
  Sys.setlocale("LC_COLLATE", "C.UTF-8")
  if (!capabilities("ICU")) stop("no English collation available (no en_US.UTF-8, no ICU)")
  icuSetCollate(locale = "en_US")
  collation <- "C.UTF-8 with ICU collation en_US (en_US.UTF-8 not installed)"
}
stopifnot(identical(levels(factor(c("PLS", "classic", "flail_arm"))),
                    c("classic", "flail_arm", "PLS")))
stopifnot(identical(sort(c("B", "a")), c("a", "B")))
collation_probe <- c("classic", "flail_arm", "PLS", "a", "B", "b", "A", "ab", "aB", "Ab", "a_b",
                     "a.b", "a b", "a-b", "a1", "a10", "a2", "x_", "Z", "z", "10", "9",
                     "e", "f", "flail-arm", "flailarm", "flail arm", "ALS", "control",
                     "als", "Control", "site_2", "site10", "S001", "s002", "M", "F")

r_term <- function(x) ifelse(x == "(Intercept)", "Intercept", x)

write_data <- function(d, name) {
  path <- file.path(data_dir, paste0(name, ".csv"))
  write.csv(d, path, row.names = FALSE, na = "")
  read.csv(path, stringsAsFactors = FALSE, check.names = FALSE)
}

# ---------------------------------------------------------------- data
sleep <- write_data(data.frame(Reaction = sleepstudy$Reaction, Days = sleepstudy$Days,
                               Subject = as.character(sleepstudy$Subject)), "sleepstudy")
ortho <- write_data(data.frame(distance = Orthodont$distance, age = Orthodont$age,
                               Subject = as.character(Orthodont$Subject),
                               Sex = as.character(Orthodont$Sex)), "orthodont")
lung_d <- write_data(survival::lung, "lung")
pbc_d <- write_data(survival::pbc[, c("id", "time", "status", "trt", "age", "sex", "edema",
                                      "bili", "albumin", "protime")], "pbc")
cars <- mtcars
cars$gearbox <- ifelse(cars$am == 1, "manual", "Auto")
cars$size <- c("small", "Big", "medium")[1 + (cars$wt > 2.5) + (cars$wt > 3.5)]
mtcars_d <- write_data(cars, "mtcars")
stopifnot(identical(levels(factor(mtcars_d$size)), c("Big", "medium", "small")))

set.seed(20261130)
n_sub <- 150
phen <- sample(c("classic", "flail_arm", "PLS"), n_sub, replace = TRUE, prob = c(.5, .25, .25))
site <- sample(c("a", "B"), n_sub, replace = TRUE)
age <- round(runif(n_sub, 40, 80), 1)
b0 <- rnorm(n_sub, 0, 0.8)
rows <- list()
for (i in seq_len(n_sub)) {
  k <- sample(2:5, 1)
  years <- c(0, sort(round(runif(k - 1, 0.2, 3), 3)))
  slope <- c(classic = -0.6, flail_arm = -0.3, PLS = -0.1)[[phen[i]]]
  y <- 10 + 0.02 * age[i] + (site[i] == "B") * 0.4 + b0[i] + slope * years + rnorm(k, 0, 0.5)
  rate <- exp(-4 + 0.03 * age[i] + c(classic = 0.5, flail_arm = 0, PLS = -0.7)[[phen[i]]])
  t_event <- rexp(1, rate)
  t_cens <- runif(1, 12, 72)
  rows[[i]] <- data.frame(subject = sprintf("S%03d", i), years = years, y = round(y, 6),
                          phenotype = phen[i], site = site[i], age = age[i],
                          survival_months = round(min(t_event, t_cens), 4),
                          event = as.integer(t_event <= t_cens))
}
pheno <- write_data(do.call(rbind, rows), "phenotype")
stopifnot(identical(levels(factor(pheno$phenotype)), c("classic", "flail_arm", "PLS")))
stopifnot(identical(levels(factor(pheno$site)), c("a", "B")))

# ---------------------------------------------------------------- mixed models
controls <- list(
  bobyqa = lmerControl(optimizer = "bobyqa",
                       optCtrl = list(rhoend = 1e-12, maxfun = 1e5)),
  Nelder_Mead = lmerControl(optimizer = "Nelder_Mead",
                            optCtrl = list(FtolAbs = 1e-15, FtolRel = 1e-15, XtolRel = 1e-12,
                                           maxfun = 1e5)),
  nloptwrap = lmerControl(optimizer = "nloptwrap",
                          optCtrl = list(ftol_abs = 1e-14, xtol_abs = 1e-12, xtol_rel = 1e-12,
                                         maxeval = 1e5))
)

best_lmer <- function(formula, data) {
  fits <- lapply(controls, function(ctrl) lmer(as.formula(formula), data = data, REML = TRUE,
                                               control = ctrl))
  ll <- sapply(fits, function(f) as.numeric(logLik(f)))
  list(fit = fits[[which.max(ll)]], optimizer = names(ll)[which.max(ll)], loglik_all = as.list(ll))
}

lmer_case <- function(name, data_name, data, formula, newdata = NULL) {
  b <- best_lmer(formula, data)
  fit <- b$fit
  fe <- fixef(fit)
  se <- sqrt(diag(as.matrix(vcov(fit))))
  out <- list(name = name, data = data_name, formula = formula, optimizer = b$optimizer,
              loglik_all = b$loglik_all,
              term = I(r_term(names(fe))), estimate = I(unname(fe)), std_error = I(unname(se)),
              theta = I(unname(getME(fit, "theta"))), sigma = sigma(fit),
              loglik = as.numeric(logLik(fit)), singular = isSingular(fit),
              x_terms = I(c("(Intercept)", attr(terms(fit), "term.labels"))),
              x_assign = I(attr(getME(fit, "X"), "assign")))
  if (!is.null(newdata)) {
    out$newdata <- as.list(newdata)
    out$predict_fixed <- I(unname(predict(fit, newdata = newdata, re.form = NA)))
  }
  out
}

new_days <- data.frame(Days = c(-1, 0, 2.5, 4.5, 9, 11))
mixed <- list(
  lmer_case("sleep_I2", "sleepstudy", sleep, "Reaction ~ Days + I(Days^2) + (Days | Subject)",
            new_days),
  lmer_case("sleep_poly", "sleepstudy", sleep, "Reaction ~ poly(Days, 2) + (Days | Subject)",
            new_days),
  lmer_case("sleep_poly_raw", "sleepstudy", sleep,
            "Reaction ~ poly(Days, 2, raw = TRUE) + (Days | Subject)", new_days),
  lmer_case("sleep_ns", "sleepstudy", sleep, "Reaction ~ ns(Days, df = 3) + (Days | Subject)",
            new_days),
  lmer_case("sleep_bs", "sleepstudy", sleep, "Reaction ~ bs(Days, df = 4) + (Days | Subject)",
            new_days),
  lmer_case("sleep_factor", "sleepstudy", sleep, "Reaction ~ factor(Days) + (1 | Subject)"),
  lmer_case("sleep_scale", "sleepstudy", sleep, "Reaction ~ scale(Days) + (Days | Subject)",
            new_days),
  lmer_case("orthodont_cross", "orthodont", ortho, "distance ~ (age + Sex)^2 + (1 | Subject)"),
  lmer_case("phenotype_lmer", "phenotype", pheno,
            "y ~ phenotype * years + site + age + (1 | subject)")
)

# ---------------------------------------------------------------- Cox models
cox_case <- function(name, data_name, data, formula) {
  fit <- coxph(as.formula(formula), data = data, ties = "efron")
  list(name = name, data = data_name, formula = formula,
       term = I(names(coef(fit))), estimate = I(unname(coef(fit))),
       std_error = I(unname(sqrt(diag(vcov(fit))))), loglik = fit$loglik[2], n = fit$n,
       n_events = fit$nevent)
}
pheno_subjects <- pheno[!duplicated(pheno$subject), ]
cox <- list(
  cox_case("lung_strata", "lung", lung_d,
           "Surv(time, status == 2) ~ age + ph.ecog + strata(sex)"),
  cox_case("lung_I2", "lung", lung_d, "Surv(time, status) ~ age + I(age^2) + ph.ecog"),
  cox_case("lung_months", "lung", lung_d,
           "Surv(time / 30.44, status == 2) ~ age + sex + ph.karno"),
  cox_case("pbc_log", "pbc", pbc_d,
           "Surv(time, status == 2) ~ log(bili) + log(albumin) + age + edema"),
  cox_case("phenotype_cox", "phenotype", pheno_subjects,
           "Surv(survival_months, event) ~ phenotype + age + site")
)

# ---------------------------------------------------------------- model matrices (mtcars)
mm_formulas <- c(
  "mpg ~ factor(cyl) * wt",
  "mpg ~ 0 + factor(cyl) + factor(gear)",
  "mpg ~ (wt + hp + qsec)^2",
  "mpg ~ wt/factor(am)",
  "mpg ~ factor(am):wt",
  "mpg ~ factor(cyl):factor(am)",
  "mpg ~ log(hp) + sqrt(disp) + I(wt > 3) + poly(hp, 3)",
  "mpg ~ ns(hp, df = 3) + bs(wt, df = 5)",
  "mpg ~ hp - 1",
  "mpg ~ scale(hp) + I(hp^2/1000) + log10(disp) + log2(wt) + log1p(carb) + exp(wt/10) + abs(hp - 150)",
  "mpg ~ wt * hp * factor(am) - wt:hp:factor(am)",
  "mpg ~ poly(hp, 2, raw = TRUE) + bs(disp, df = 3, degree = 2)",
  "mpg ~ ns(hp, knots = c(100, 200)) + bs(wt, knots = c(3)) + log(hp, 2)",
  "mpg ~ factor(cyl) + I(factor(gear) == \"4\") + I(am == 1 & wt < 3)",
  "mpg ~ gearbox * size",
  "mpg ~ size:wt + size",
  "mpg ~ 0 + size:wt",
  "mpg ~ poly(wt, 2):gearbox + hp",
  "mpg ~ factor(cyl)*factor(gear) - factor(cyl)",
  "mpg ~ hp:wt + wt:hp:qsec + qsec:hp",
  "mpg ~ I(gearbox == \"manual\") + I((hp - 100)^2) + I(-wt)"
)
matrices <- lapply(mm_formulas, function(f) {
  mm <- model.matrix(as.formula(f), data = mtcars_d)
  list(formula = f, names = I(r_term(colnames(mm))), assign = I(attr(mm, "assign")),
       term_labels = I(attr(terms(as.formula(f)), "term.labels")),
       matrix = lapply(seq_len(nrow(mm)), function(i) I(unname(mm[i, ]))))
})

# ---------------------------------------------------------------- bases on new data
x <- sleep$Days
newx <- c(-1, 0, 2.5, 4.5, 9, 11)
basis_rows <- function(m) lapply(seq_len(nrow(m)), function(i) I(unname(m[i, ])))
p2 <- poly(x, 2)
n3 <- ns(x, df = 3)
b4 <- bs(x, df = 4)
hp <- mtcars_d$hp
bases <- list(
  x = I(x), newx = I(newx),
  poly2_fit = basis_rows(p2), poly2_new = basis_rows(predict(p2, newx)),
  poly2_alpha = I(attr(p2, "coefs")$alpha), poly2_norm2 = I(attr(p2, "coefs")$norm2),
  ns3_fit = basis_rows(n3), ns3_new = basis_rows(predict(n3, newx)),
  ns3_knots = I(attr(n3, "knots")),
  bs4_fit = basis_rows(b4), bs4_new = basis_rows(predict(b4, newx)),
  bs4_knots = I(attr(b4, "knots")),
  hp = I(hp), newhp = I(c(40, 52, 150, 335, 400)),
  ns5_hp_new = basis_rows(predict(ns(hp, df = 5), c(40, 52, 150, 335, 400))),
  bs6_hp_new = basis_rows(predict(bs(hp, df = 6), c(40, 52, 150, 335, 400))),
  poly4_hp_new = basis_rows(predict(poly(hp, 4), c(40, 52, 150, 335, 400))),
  scale_center = mean(x), scale_scale = sd(x)
)

# ---------------------------------------------------------------- random-effect terms (lme4)
pastes <- write_data(data.frame(strength = Pastes$strength, batch = as.character(Pastes$batch),
                                cask = as.character(Pastes$cask)), "pastes")
penicillin <- write_data(data.frame(diameter = Penicillin$diameter,
                                    plate = as.character(Penicillin$plate),
                                    sample = as.character(Penicillin$sample)), "penicillin")
machines <- write_data(data.frame(score = Machines$score, Worker = as.character(Machines$Worker),
                                  Machine = as.character(Machines$Machine)), "machines")
random_case <- function(name, data_name, data, formula) {
  lf <- lFormula(as.formula(formula), data = data)
  bars <- findbars(lme4:::expandDoubleVerts(as.formula(formula)))
  blocks <- lapply(bars, function(b) {
    grp <- deparse1(b[[3]])
    mm <- model.matrix(eval(substitute(~foo, list(foo = b[[2]]))), lf$fr)
    f <- lf$reTrms$flist[[grp]]
    list(grp = grp, z_names = I(r_term(colnames(mm))),
         Z = lapply(seq_len(nrow(mm)), function(i) I(unname(mm[i, ]))),
         levels = I(levels(f)), codes = I(as.integer(f) - 1L))
  })
  list(name = name, data = data_name, formula = formula, blocks = blocks,
       reTrms_order = I(names(lf$reTrms$cnms)))
}
random_terms <- list(
  random_case("pastes_nested", "pastes", pastes, "strength ~ 1 + (1 | batch/cask)"),
  random_case("penicillin_crossed", "penicillin", penicillin,
              "diameter ~ 1 + (1 | plate) + (1 | sample)"),
  random_case("machines_interaction", "machines", machines,
              "score ~ Machine + (1 | Worker) + (1 | Worker:Machine)"),
  random_case("machines_factor_slope", "machines", machines,
              "score ~ Machine + (0 + Machine | Worker)"),
  random_case("sleep_double_bar", "sleepstudy", sleep, "Reaction ~ Days + (Days || Subject)")
)

out <- list(
  r_version = R.version.string,
  packages = list(lme4 = as.character(packageVersion("lme4")),
                  survival = as.character(packageVersion("survival")),
                  splines = as.character(packageVersion("splines"))),
  collation = collation,
  collation_probe = I(collation_probe), collation_sorted = I(sort(collation_probe)),
  phenotype_levels = I(levels(factor(pheno$phenotype))),
  mixed = mixed, cox = cox, model_matrices = matrices, bases = bases,
  random_terms = random_terms
)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = FALSE),
           file.path(ref_dir, "formula.json"))
cat("wrote", file.path(ref_dir, "formula.json"), "\n")
