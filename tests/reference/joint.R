# Reference fits of JM 1.5 (jointModel, survfitJM) for alsstats.joint.
# Run from the repository root:  R_LIBS_USER=<lib with JM> Rscript tests/reference/joint.R
# Writes tests/reference/joint.json and the data it fitted to tests/reference/joint_data/*.csv.
Sys.setlocale("LC_COLLATE", "en_US.UTF-8")
suppressPackageStartupMessages({library(JM); library(nlme); library(survival); library(jsonlite)})
out_dir <- "tests/reference"
data_dir <- file.path(out_dir, "joint_data")
dir.create(data_dir, showWarnings = FALSE)

pbc <- pbc2[, c("id", "years", "status2", "drug", "serBilir", "year")]
pbc$id <- as.integer(as.character(pbc$id))
write.csv(pbc, file.path(data_dir, "pbc2.csv"), row.names = FALSE)
aid <- aids[, c("patient", "Time", "death", "drug", "CD4", "obstime")]
aid$patient <- as.integer(as.character(aid$patient))
write.csv(aid, file.path(data_dir, "aids.csv"), row.names = FALSE)

lme_info <- function(fit) {
  list(beta = unname(fixef(fit)), sigma = fit$sigma,
       D = unname(getVarCov(fit)[, ]), ranef = unname(as.matrix(ranef(fit))),
       logLik = as.numeric(logLik(fit)))
}

case <- function(jm, lfit) {
  s <- summary(jm)
  co <- jm$coefficients
  V <- vcov(jm)
  res <- list(
    logLik = as.numeric(jm$logLik),
    betas = as.list(co$betas), sigma = co$sigma, D = unname(co$D),
    gammas = as.list(co$gammas),
    alpha = if (is.null(co$alpha)) NULL else unname(co$alpha),
    Dalpha = if (is.null(co$Dalpha)) NULL else unname(co$Dalpha),
    sigma_t = if (is.null(co$sigma.t)) NULL else co$sigma.t,
    xi = if (is.null(co$xi)) NULL else unname(co$xi),
    knots = if (is.null(jm$control$knots)) NULL else unname(jm$control$knots),
    GHk = jm$control$GHk, GKk = jm$control$GKk,
    long_table = list(term = rownames(s$`CoefTable-Long`),
                      estimate = unname(s$`CoefTable-Long`[, 1]),
                      std_error = unname(s$`CoefTable-Long`[, 2])),
    event_table = list(term = rownames(s$`CoefTable-Event`),
                       estimate = unname(s$`CoefTable-Event`[, 1]),
                       std_error = unname(s$`CoefTable-Event`[, 2])),
    vcov_names = rownames(V), vcov = unname(V),
    convergence = jm$convergence, iters = jm$iters,
    lme = lme_info(lfit))
  res
}

# JM's quasi-Newton phase stops on optim's default relative tolerance (1e-8) with parscale
# 0.01, up to ~0.01 log-likelihood units short of the maximum on these data. The "tight" fits
# run the same jointModel code with optim/nlminb calls tightened (reltol 1e-15, more
# iterations, restarted until the log-likelihood stops rising; only the final quasi-Newton
# phase, recognised by its maxit = iter.qN = 350): JM's likelihood, JM's optimiser,
# run to convergence -- as lme4's tight refits in lme.R.
tight_env <- new.env(parent = asNamespace("JM"))
tight_env$optim <- function(par, fn, gr = NULL, ..., method = "BFGS", control = list(),
                            hessian = FALSE) {
  if (is.null(control$maxit) || control$maxit < 350)  # EM-phase M-steps: unchanged
    return(stats::optim(par, fn, gr, ..., method = method, control = control, hessian = hessian))
  control$maxit <- 10000
  control$reltol <- 1e-15
  best <- stats::optim(par, fn, gr, ..., method = method, control = control, hessian = hessian)
  for (k in 1:20) {
    again <- stats::optim(best$par, fn, gr, ..., method = method, control = control,
                          hessian = hessian)
    if (again$value >= best$value - 1e-12) { best <- if (again$value < best$value) again else best; break }
    best <- again
  }
  best$convergence <- 0L
  best
}
for (f in c("weibullPHGH.fit", "piecewisePHGH.fit", "jointModel")) {
  g <- get(f, envir = asNamespace("JM"))
  environment(g) <- tight_env
  assign(f, g, envir = tight_env)
}
jointModelTight <- tight_env$jointModel

cases <- list()
lmeFit <- lme(log(serBilir) ~ year, random = ~ year | id, data = pbc2)
coxFit <- coxph(Surv(years, status2) ~ drug, data = pbc2.id, x = TRUE)
dForm <- list(fixed = ~ 1, indFixed = 2, random = ~ 1, indRandom = 2)
times <- list()
for (meth in c("weibull-PH-aGH", "piecewise-PH-aGH")) {
  for (par in c("value", "slope", "both")) {
    t0 <- proc.time()[["elapsed"]]
    jm <- if (par == "value") {
      jointModel(lmeFit, coxFit, timeVar = "year", method = meth)
    } else {
      jointModel(lmeFit, coxFit, timeVar = "year", method = meth,
                 parameterization = par, derivForm = dForm)
    }
    nm <- paste("pbc2", sub("-PH-aGH", "", meth), par, sep = "_")
    times[[nm]] <- proc.time()[["elapsed"]] - t0
    cases[[nm]] <- case(jm, lmeFit)
    jmt <- if (par == "value") {
      jointModelTight(lmeFit, coxFit, timeVar = "year", method = meth)
    } else {
      jointModelTight(lmeFit, coxFit, timeVar = "year", method = meth,
                      parameterization = par, derivForm = dForm)
    }
    cases[[nm]]$tight <- case(jmt, lmeFit)
    cases[[nm]]$tight$lme <- NULL
    cat(nm, "tight", jmt$logLik, "\n")
    if (nm == "pbc2_weibull_value") jm_pbc <- jmt
    cat(nm, jm$logLik, "\n")
  }
}

lmeA <- lme(CD4 ~ obstime + obstime:drug, random = ~ obstime | patient, data = aids)
coxA <- coxph(Surv(Time, death) ~ drug, data = aids.id, x = TRUE)
for (meth in c("weibull-PH-aGH", "piecewise-PH-aGH")) {
  jm <- jointModel(lmeA, coxA, timeVar = "obstime", method = meth)
  nm <- paste("aids", sub("-PH-aGH", "", meth), "value", sep = "_")
  cases[[nm]] <- case(jm, lmeA)
  jmt <- jointModelTight(lmeA, coxA, timeVar = "obstime", method = meth)
  cases[[nm]]$tight <- case(jmt, lmeA)
  cases[[nm]]$tight$lme <- NULL
  cat(nm, "tight", jmt$logLik, "\n")
  cat(nm, jm$logLik, "\n")
}

# dynamic predictions, first order (simulate = FALSE), pbc2 Weibull value model (tight fit)
pred_ids <- c(2, 25)
surv_times <- seq(0, 15, by = 0.5)
preds <- list()
for (pid in pred_ids) {
  nd <- pbc2[pbc2$id == pid, ]
  sf <- survfitJM(jm_pbc, newdata = nd, idVar = "id", simulate = FALSE,
                  survTimes = surv_times)
  tab <- sf$summaries[[1]]
  preds[[as.character(pid)]] <- list(id = pid, last_time = unname(sf$last.time),
                                     times = unname(tab[, "times"]),
                                     surv = unname(tab[, "predSurv"]))
}

out <- list(
  R_version = R.version.string, JM_version = as.character(packageVersion("JM")),
  nlme_version = as.character(packageVersion("nlme")),
  cases = cases, predictions = list(case = "pbc2_weibull_value", survTimes = surv_times,
                                    subjects = preds),
  elapsed_seconds = times)
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, null = "null", pretty = TRUE),
           file.path(out_dir, "joint.json"))
