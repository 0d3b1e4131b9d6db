# Reference predictions for LMEResult.predict (lme4's predict.merMod semantics for new and missing
# levels). Run from the repository root after tests/reference/lme_engine.R has written its CSVs:
#     Rscript tests/reference/lme_predict.R
# Writes tests/reference/lme_predict.json: per case the model, the newdata rows (fit rows plus
# rows with a new subject, a new site, a missing subject or site), lme4's predictions with
# allow.new.levels = TRUE for several re.form, and whether / with which message lme4 errors
# with its default allow.new.levels = FALSE.
Sys.setlocale("LC_COLLATE", "en_US.UTF-8")
suppressPackageStartupMessages({
  library(lme4)
  library(jsonlite)
})

ref_dir <- "tests/reference"
data_dir <- file.path(ref_dir, "lme_engine_data")
tight <- lmerControl(optimizer = "nloptwrap",
                     optCtrl = list(ftol_abs = 1e-14, xtol_abs = 1e-12, xtol_rel = 1e-12,
                                    maxeval = 1e5))

outcome <- function(expr) {
  tryCatch({
    value <- expr
    list(prediction = I(unname(value)), error = NULL)
  }, error = function(e) list(prediction = NULL, error = conditionMessage(e)))
}

case <- function(name, data_name, formula, factors, newdata, re_forms) {
  d <- read.csv(file.path(data_dir, paste0(data_name, ".csv")), stringsAsFactors = FALSE)
  for (f in factors) d[[f]] <- factor(d[[f]])
  m <- lmer(as.formula(formula), data = d, REML = TRUE, control = tight)
  plain <- d
  for (f in factors) plain[[f]] <- as.character(plain[[f]])
  nd <- newdata(plain)
  runs <- lapply(names(re_forms), function(label) {
    rf <- re_forms[[label]]
    list(re_form = label,
         allow_new_levels = outcome(predict(m, newdata = nd, re.form = rf,
                                            allow.new.levels = TRUE)),
         default = outcome(predict(m, newdata = nd, re.form = rf)))
  })
  list(name = name, data = paste0("lme_engine_data/", data_name, ".csv"), formula = formula,
       loglik = as.numeric(logLik(m)), newdata = as.list(nd), runs = runs)
}

sites_new <- function(d) {
  nd <- d[c(1, 2, 50, 1, 1, 1, 1, 1), c("subject", "site", "years", "als", "wmh")]
  nd$subject[4] <- "NEW1"
  nd$site[5] <- "NEWSITE"
  nd$subject[6] <- NA
  nd$site[7] <- NA
  nd$subject[8] <- "NEW2"; nd$site[8] <- "NEWSITE"
  rownames(nd) <- NULL
  nd
}
sites_new_only <- function(d) {  # new levels, nothing missing
  nd <- sites_new(d)[c(1, 2, 3, 4, 5, 8), ]
  rownames(nd) <- NULL
  nd
}
sites_seen <- function(d) {
  nd <- d[c(1, 2, 50, 300), c("subject", "site", "years", "als", "wmh")]
  rownames(nd) <- NULL
  nd
}
sites_na_subject <- function(d) {  # only a missing subject: fine when re.form drops subject
  nd <- sites_seen(d)
  nd$subject[2] <- NA
  nd
}
machines_new <- function(d) {
  nd <- d[c(1, 20, 40, 1), c("Worker", "Machine", "score")]
  nd$Worker[4] <- "7"
  rownames(nd) <- NULL
  nd
}

sites_formula <- "wmh ~ als * years + (1 | site) + (1 + years | subject)"
re_sites <- list("NULL" = NULL, "~(1 | site)" = ~(1 | site),
                 "~(1 + years | subject)" = ~(1 + years | subject), "NA" = NA)
cases <- list(
  case("sites_new_levels", "calsnic_sites", sites_formula, c("subject", "site"), sites_new,
       re_sites),
  case("sites_new_only", "calsnic_sites", sites_formula, c("subject", "site"), sites_new_only,
       re_sites),
  case("sites_seen_levels", "calsnic_sites", sites_formula, c("subject", "site"), sites_seen,
       re_sites),
  case("sites_missing_subject", "calsnic_sites", sites_formula, c("subject", "site"),
       sites_na_subject, re_sites),
  case("machines_new_worker", "machines", "score ~ Machine + (1 | Worker/Machine)",
       c("Worker", "Machine"), machines_new,
       list("NULL" = NULL, "~(1 | Worker)" = ~(1 | Worker), "NA" = NA))
)
out <- list(lme4 = as.character(packageVersion("lme4")), R = R.version.string, cases = cases)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, null = "null", na = "null", pretty = TRUE),
           file.path(ref_dir, "lme_predict.json"))
