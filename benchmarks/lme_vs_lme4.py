"""Mixed-model speed, side by side: alsstats ``fit_lme`` vs lme4/lmerTest vs statsmodels MixedLM.

Run from the repository root::

    python benchmarks/lme_vs_lme4.py             # 439, 4,390 and 43,900 subjects
    python benchmarks/lme_vs_lme4.py --quick     # fewer repeats, no 43,900
    python benchmarks/lme_vs_lme4.py --sizes 439,4390 --statsmodels-all

Everything runs in one invocation on one machine. The cohorts are simulated here (seeded,
CALSNIC-like: 232/439 ALS, 1 to 3 visits at about 0, 4 and 8 months, ~2.38 visits per subject,
WMH-scale response) and handed to R as CSV files written with 17 significant digits, so all three
implementations fit the same numbers. R runs once (one ``Rscript`` process) and times its own fits
internally, so R's start-up and package loading are not counted. Times are medians over repeats,
after one untimed warm-up fit per implementation.

Work timed:

- ``y ~ group * years + age + sex + (1 | site) + (1 + years | subject)`` by REML (7 sites with a
  site effect; statsmodels cannot fit it): alsstats ``fit_lme`` with its default Satterthwaite df
  vs plain ``lme4::lmer`` at every size.

- ``y ~ group * years + age + sex + (1 + years | subject)`` by REML: alsstats ``fit_lme`` with
  its default Satterthwaite df (the stricter comparison: plain ``lme4::lmer`` computes no df),
  ``lme4::lmer`` and statsmodels ``mixedlm(..., re_formula="~years").fit(reml=True)``.
  Every alsstats time includes reading ``fit.coefficients`` (the table with t-tests, df, p and
  CIs), so nothing the researcher asks for is left to be computed after the clock stops. statsmodels is skipped at
  43,900 subjects unless ``--statsmodels-all`` (it takes ~6 minutes there).
- lmerTest ``lmer`` + ``summary()`` (Satterthwaite) vs alsstats ``fit_lme`` (Satterthwaite is
  its default), 439 subjects.
- 1,000 parametric bootstrap refits of ``y ~ group * years + age + sex + (1 | subject)``:
  ``bootMer(fit, fixef, nsim = 1000)`` vs ``fit.bootstrap(n=1000, seed=0)`` (the initial fit is
  not timed). statsmodels has no parametric bootstrap; its column times ``--sm-boot`` formula
  refits on simulated responses and scales to 1,000 (marked "extrapolated").

``--peers-python PATH`` also times the Python peers ``mixedlm``, ``mixedlm-rs`` and
``interlace-lme`` in their own environment (see ``benchmarks/lme_peers.py``), in the same run, and
checks their residual variance against lme4's (their rows put the peer's time in the alsstats
column).

If R or lme4/lmerTest are missing the lme4 column reads "n/a" and the script says why; if
``alsstats.lme.fit_lme`` cannot be imported its column reads "n/a".
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

FIXED = "y ~ group * years + age + sex"
RIRS = f"{FIXED} + (1 + years | subject)"
RI = f"{FIXED} + (1 | subject)"
SITES = f"{FIXED} + (1 | site) + (1 + years | subject)"
N_SITES = 7
BASE_SUBJECTS = 439

R_SCRIPT = r"""
suppressPackageStartupMessages({
  ok <- requireNamespace("lme4", quietly = TRUE) && requireNamespace("lmerTest", quietly = TRUE) &&
    requireNamespace("jsonlite", quietly = TRUE)
})
args <- commandArgs(trailingOnly = TRUE)
if (!ok) {
  writeLines('{"error": "R packages lme4, lmerTest or jsonlite not installed"}', args[2])
  quit(status = 0)
}
suppressPackageStartupMessages({ library(lme4); library(jsonlite) })
cfg <- fromJSON(args[1], simplifyVector = FALSE)
now <- function() as.numeric(Sys.time())
read_cohort <- function(path) {
  d <- read.csv(path, colClasses = c(subject = "character", group = "character",
                                     sex = "character"))
  d$subject <- factor(d$subject)
  d$group <- factor(d$group, levels = c("control", "ALS"))
  d$sex <- factor(d$sex, levels = c("F", "M"))
  d$site <- factor(d$site)
  d
}
timed <- function(expr_fun, repeats) {
  out <- NULL
  times <- numeric(repeats)
  for (r in seq_len(repeats)) {
    t0 <- now(); out <- expr_fun(); times[r] <- now() - t0
  }
  list(times = times, value = out)
}
rirs <- as.formula(cfg$rirs)
sites <- as.formula(cfg$sites)
ri <- as.formula(cfg$ri)
res <- list(r_version = R.version.string, lme4_version = as.character(packageVersion("lme4")),
            lmerTest_version = as.character(packageVersion("lmerTest")), fits = list(),
            site_fits = list())
warm <- read_cohort(cfg$fits[[1]]$csv)
invisible(suppressMessages(lme4::lmer(rirs, data = warm)))
for (job in cfg$fits) {
  d <- read_cohort(job$csv)
  t <- timed(function() suppressMessages(lme4::lmer(rirs, data = d)), job$repeats)
  res$fits[[length(res$fits) + 1]] <- list(
    n_subjects = job$n_subjects, times = I(t$times), fixef = as.list(fixef(t$value)),
    loglik = as.numeric(logLik(t$value)), singular = isSingular(t$value),
    sigma2 = sigma(t$value)^2)
  t <- timed(function() suppressMessages(lme4::lmer(sites, data = d)), job$repeats)
  res$site_fits[[length(res$site_fits) + 1]] <- list(
    n_subjects = job$n_subjects, times = I(t$times), fixef = as.list(fixef(t$value)),
    loglik = as.numeric(logLik(t$value)), singular = isSingular(t$value),
    sigma2 = sigma(t$value)^2)
}
if (!is.null(cfg$lmertest)) {
  d <- read_cohort(cfg$lmertest$csv)
  invisible(summary(lmerTest::lmer(rirs, data = d)))
  t <- timed(function() summary(lmerTest::lmer(rirs, data = d)), cfg$lmertest$repeats)
  res$lmertest <- list(times = I(t$times), df = as.list(coef(t$value)[, "df"]))
}
if (!is.null(cfg$boot)) {
  d <- read_cohort(cfg$boot$csv)
  fit <- lme4::lmer(ri, data = d)
  set.seed(0)
  t0 <- now()
  b <- suppressMessages(suppressWarnings(bootMer(fit, fixef, nsim = cfg$boot$nsim)))
  elapsed <- now() - t0
  res$boot <- list(times = I(elapsed), nsim = cfg$boot$nsim,
                   sd = as.list(apply(b$t, 2, sd, na.rm = TRUE)))
}
writeLines(toJSON(res, auto_unbox = TRUE, digits = NA), args[2])
"""


def simulate_cohort(n_subjects: int, seed: int = 0) -> pd.DataFrame:
    """A CALSNIC-like visit table: ~2.38 visits per subject, WMH-scale ``y`` (mm3)."""
    rng = np.random.default_rng(seed)
    n_als = round(n_subjects * 232 / 439)
    is_als = np.zeros(n_subjects, dtype=bool)
    is_als[rng.permutation(n_subjects)[:n_als]] = True
    age = rng.normal(58.0, 10.0, n_subjects)
    male = rng.random(n_subjects) < 0.55
    n_visits = rng.choice([1, 2, 3], n_subjects, p=[0.14, 0.34, 0.52])
    site = rng.integers(N_SITES, size=n_subjects)
    site_effect = rng.normal(0.0, 300.0, N_SITES)
    b = rng.multivariate_normal([0.0, 0.0], [[1500.0**2, 0.4 * 1500 * 500],
                                             [0.4 * 1500 * 500, 500.0**2]], n_subjects)
    sid = np.repeat(np.arange(n_subjects), n_visits)
    visit = np.concatenate([np.arange(k) for k in n_visits])
    years = np.where(visit == 0, 0.0,
                     visit / 3 + rng.normal(0.0, 0.03, len(sid)) * (visit > 0))
    years = np.abs(years)
    a = is_als[sid]
    y = (1000.0 + 300.0 * a + 60.0 * age[sid] + 250.0 * male[sid] + (350.0 + 900.0 * a) * years
         + b[sid, 0] + b[sid, 1] * years + site_effect[site[sid]]
         + rng.normal(0.0, 200.0, len(sid)))
    width = len(str(n_subjects))
    return pd.DataFrame({
        "subject": [f"S{i + 1:0{width}d}" for i in sid],
        "years": years,
        "group": pd.Categorical(np.where(a, "ALS", "control"), categories=["control", "ALS"]),
        "age": age[sid],
        "sex": pd.Categorical(np.where(male[sid], "M", "F"), categories=["F", "M"]),
        "site": [f"site{k + 1}" for k in site[sid]],
        "y": y,
    })


def _with_table(fit):
    """The fit after its coefficient table has been read (built, if it is built lazily)."""
    assert fit.coefficients["df"].notna().all()
    return fit


def _median_time(fun, repeats: int, warmup: bool = False) -> tuple[float, object]:
    if warmup:
        fun()
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fun()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def run_r(cohorts: dict[int, Path], repeats: dict[int, int], boot_csv: Path | None, nsim: int,
          lmertest_repeats: int, workdir: Path) -> tuple[dict | None, str]:
    """Run every R timing in one Rscript process; return (results, reason if unavailable)."""
    rscript = shutil.which("Rscript")
    if rscript is None:
        return None, "Rscript not found on PATH"
    cfg = {
        "rirs": RIRS, "ri": RI, "sites": SITES,
        "fits": [{"n_subjects": n, "csv": str(p), "repeats": repeats[n]}
                 for n, p in cohorts.items()],
        "lmertest": ({"csv": str(cohorts[BASE_SUBJECTS]), "repeats": lmertest_repeats}
                     if BASE_SUBJECTS in cohorts else None),
        "boot": {"csv": str(boot_csv), "nsim": nsim} if boot_csv is not None else None,
    }
    cfg_path, out_path, script = (workdir / "config.json", workdir / "r_out.json",
                                  workdir / "bench.R")
    cfg_path.write_text(json.dumps(cfg))
    script.write_text(R_SCRIPT)
    proc = subprocess.run([rscript, "--vanilla", str(script), str(cfg_path), str(out_path)],
                          capture_output=True, text=True)
    if proc.returncode != 0 or not out_path.exists():
        return None, f"Rscript failed ({proc.returncode}): {proc.stderr.strip()[-500:]}"
    out = json.loads(out_path.read_text())
    if "error" in out:
        return None, out["error"]
    return out, ""


def run_peers(python: str, cohorts: dict[int, Path], repeats: dict[int, int],
              workdir: Path) -> list[dict]:
    """Time the Python peers in their own environment (benchmarks/lme_peers.py)."""
    cfg = {"fits": [{"n_subjects": n, "csv": str(p), "repeats": repeats[n]}
                    for n, p in cohorts.items()]}
    cfg_path, out_path = workdir / "peers.json", workdir / "peers_out.json"
    cfg_path.write_text(json.dumps(cfg))
    script = Path(__file__).resolve().parent / "lme_peers.py"
    proc = subprocess.run([python, str(script), str(cfg_path), str(out_path)],
                          capture_output=True, text=True)
    if proc.returncode != 0 or not out_path.exists():
        print(f"peers: failed ({proc.returncode}): {proc.stderr.strip()[-500:]}")
        return []
    return json.loads(out_path.read_text())


def _fmt(x: float | None, missing: str = "n/a") -> str:
    if x is None or not np.isfinite(x):
        return missing or "n/a"
    return f"{x:.3g}" if x < 100 else f"{x:.0f}"


def _ratio(a: float | None, b: float | None) -> str:
    if a is None or b is None or not (np.isfinite(a) and np.isfinite(b)) or b == 0:
        return "—"
    return f"{a / b:.2f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="fewer repeats and no 43,900-subject cohort")
    parser.add_argument("--sizes", type=str, default=None,
                        help="comma-separated numbers of subjects (default 439,4390,43900)")
    parser.add_argument("--statsmodels-all", action="store_true",
                        help="also run statsmodels at sizes above 10,000 subjects (~6 min)")
    parser.add_argument("--no-statsmodels", action="store_true", help="skip statsmodels")
    parser.add_argument("--no-bootstrap", action="store_true", help="skip the bootstrap row")
    parser.add_argument("--nsim", type=int, default=1000, help="bootstrap replicates (1000)")
    parser.add_argument("--sm-boot", type=int, default=5,
                        help="statsmodels refits timed for the extrapolated bootstrap (0: skip)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--peers-python", type=str, default=None,
                        help="python of a separate environment with the Python peers (mixedlm, "
                             "mixedlm-rs, interlace-lme); see benchmarks/lme_peers.py")
    args = parser.parse_args(argv)

    if args.sizes:
        sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    else:
        sizes = [439, 4390] if args.quick else [439, 4390, 43900]
    if args.quick:
        repeats = {n: 3 if n < 1000 else 1 for n in sizes}
        sm_repeats = {n: 1 for n in sizes}
    else:
        repeats = {n: 7 if n < 1000 else 3 for n in sizes}
        sm_repeats = {n: 3 if n < 1000 else 1 for n in sizes}

    try:
        from alsstats.lme import fit_lme
    except ImportError as exc:
        fit_lme = None
        print(f"alsstats: fit_lme not available ({exc})")

    cohorts = {n: simulate_cohort(n, seed=args.seed + i) for i, n in enumerate(sizes)}
    for n, df in cohorts.items():
        print(f"cohort: {n:,} subjects, {len(df):,} visits")
    boot_df = cohorts.get(BASE_SUBJECTS, simulate_cohort(BASE_SUBJECTS, seed=args.seed))

    rows: list[tuple[str, float | None, float | None, float | None, str]] = []
    with tempfile.TemporaryDirectory(prefix="lme_bench_") as tmp:
        workdir = Path(tmp)
        paths = {}
        for n, df in cohorts.items():
            paths[n] = workdir / f"cohort_{n}.csv"
            df.to_csv(paths[n], index=False, float_format="%.17g")
        boot_csv = None
        if not args.no_bootstrap:
            boot_csv = workdir / "boot.csv"
            boot_df.to_csv(boot_csv, index=False, float_format="%.17g")
        peers = None
        if args.peers_python:
            print("running the Python peers (their own environment) ...", flush=True)
            peers = run_peers(args.peers_python, paths, repeats, workdir)
        print("running R (one process) ...", flush=True)
        r_out, why = run_r(paths, repeats, boot_csv, args.nsim,
                           3 if args.quick else 7, workdir)
    if r_out is None:
        print(f"lme4: not available ({why})")
    else:
        print(f"R: {r_out['r_version']}, lme4 {r_out['lme4_version']}, "
              f"lmerTest {r_out['lmerTest_version']}")
    r_fits = {f["n_subjects"]: f for f in (r_out or {}).get("fits", [])}

    agreement = []
    als_sigma2: dict[tuple[int, bool], float] = {}
    satterthwaite_agreement = boot_agreement = None
    warned: dict[str, int] = {}

    def quiet(fun):
        def run():
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                out = fun()
            for w in caught:
                warned[w.category.__name__] = warned.get(w.category.__name__, 0) + 1
            return out
        return run

    import statsmodels.formula.api as smf

    first = True
    for n, df in cohorts.items():
        print(f"timing {n:,} subjects ...", flush=True)
        t_als = t_sm = None
        fit = sm_fit = None
        if fit_lme is not None:
            t_als, fit = _median_time(
                quiet(lambda df=df: _with_table(fit_lme(df, RIRS, reml=True))),
                repeats[n], warmup=first)
        run_sm = not args.no_statsmodels and (n <= 10000 or args.statsmodels_all)
        if run_sm:
            t_sm, sm_fit = _median_time(
                quiet(lambda df=df: smf.mixedlm(FIXED, df, groups=df["subject"],
                                                re_formula="~years").fit(reml=True)),
                sm_repeats[n], warmup=False)
        first = False
        r = r_fits.get(n)
        t_r = statistics.median(r["times"]) if r else None
        rows.append((f"`(1 + years \\| subject)` REML fit (alsstats with Satterthwaite df), {n:,} subjects / {len(df):,} visits",
                     t_als, t_r, t_sm,
                     "" if run_sm else "skipped" + ("" if args.no_statsmodels
                                                    else " (--statsmodels-all)")))
        if fit is not None:
            als_sigma2[(n, False)] = fit.residual_variance
        if r is not None:
            ref = pd.Series(r["fixef"]).rename(index={"(Intercept)": "Intercept"})
            if fit is not None:
                est = fit.coefficients["estimate"].reindex(ref.index)
                agreement.append((n, "alsstats", float(np.max(np.abs(est - ref) / np.abs(ref))),
                                  fit.loglik - r["loglik"]))
            if sm_fit is not None:
                est = sm_fit.fe_params.rename(index=lambda t: t.replace("[T.ALS]", "ALS")
                                              .replace("[T.M]", "M")).reindex(ref.index)
                agreement.append((n, "statsmodels",
                                  float(np.max(np.abs(est - ref) / np.abs(ref))),
                                  sm_fit.llf - r["loglik"]))

    r_sites = {f["n_subjects"]: f for f in (r_out or {}).get("site_fits", [])}
    peer_agreement: list[tuple[int, str, bool, float]] = []
    for n, df in cohorts.items():
        print(f"timing the two-term site model, {n:,} subjects ...", flush=True)
        t_als = fit = None
        if fit_lme is not None:
            t_als, fit = _median_time(
                quiet(lambda df=df: _with_table(fit_lme(df, SITES, reml=True))),
                repeats[n], warmup=True)
        r = r_sites.get(n)
        rows.append((f"`(1 \\| site) + (1 + years \\| subject)` REML fit (alsstats with Satterthwaite df), {n:,} subjects",
                     t_als, statistics.median(r["times"]) if r else None, None,
                     "statsmodels: no crossed/multiple terms"))
        if fit is not None:
            als_sigma2[(n, True)] = fit.residual_variance
        if r is not None and fit is not None:
            ref = pd.Series(r["fixef"]).rename(index={"(Intercept)": "Intercept"})
            est = fit.coefficients["estimate"].reindex(ref.index)
            agreement.append((n, "alsstats, site model",
                              float(np.max(np.abs(est - ref) / np.abs(ref))),
                              fit.loglik - r["loglik"]))
    for row in peers or []:
        model = ("`(1 \\| site) + (1 + years \\| subject)`" if row["sites"]
                 else "`(1 + years \\| subject)`")
        r = (r_sites if row["sites"] else r_fits).get(row["n_subjects"])
        label = f"{row['peer']}: {model} REML fit, {row['n_subjects']:,} subjects"
        if "error" in row:
            rows.append((label, None, None, None, row["error"][:60]))
            continue
        rows.append((label, row["time"], statistics.median(r["times"]) if r else None, None,
                     "peer (own environment); alsstats column = the peer"))
        if r is not None and "sigma2" in r:
            peer_agreement.append((row["n_subjects"], row["peer"], row["sites"],
                                   abs(row["residual_variance"] / r["sigma2"] - 1.0)))
    for (n, sites), ours in als_sigma2.items():
        r = (r_sites if sites else r_fits).get(n)
        if r is not None and "sigma2" in r:
            peer_agreement.append((n, "alsstats", sites, abs(ours / r["sigma2"] - 1.0)))
    if BASE_SUBJECTS in cohorts and fit_lme is not None:
        df = cohorts[BASE_SUBJECTS]
        t_als, _ = _median_time(quiet(lambda: _with_table(fit_lme(df, SITES, reml=True))),
                                3 if args.quick else 7, warmup=True)
        rows.append((f"site model fit + Satterthwaite, {BASE_SUBJECTS} subjects", t_als, None,
                     None, "—"))

    if BASE_SUBJECTS in cohorts:
        df = cohorts[BASE_SUBJECTS]
        t_als = None
        if fit_lme is not None:
            t_als, fit = _median_time(quiet(lambda: _with_table(fit_lme(df, RIRS, reml=True))),
                                      3 if args.quick else 7, warmup=True)
        lt = (r_out or {}).get("lmertest")
        if lt is not None and fit_lme is not None:
            ref_df = pd.Series(lt["df"]).rename(index={"(Intercept)": "Intercept"})
            df_rel = np.abs(fit.coefficients["df"].reindex(ref_df.index) - ref_df) / ref_df
            satterthwaite_agreement = float(df_rel.max())
        rows.append((f"lmerTest fit + Satterthwaite summary, {BASE_SUBJECTS} subjects",
                     t_als, statistics.median(lt["times"]) if lt else None, None, "—"))

    if not args.no_bootstrap:
        print(f"timing bootstrap ({args.nsim} refits) ...", flush=True)
        t_als = None
        if fit_lme is not None:
            base = quiet(lambda: fit_lme(boot_df, RI, reml=True))()
            t_als, boot = _median_time(quiet(lambda: base.bootstrap(n=args.nsim, seed=0)), 1)
        t_sm, note = None, ""
        if args.sm_boot > 0 and not args.no_statsmodels:
            fe = smf.ols(FIXED, boot_df).fit().fittedvalues.to_numpy()
            codes, uniques = pd.factorize(boot_df["subject"])
            rng = np.random.default_rng(1)

            def sm_refits():
                for _ in range(args.sm_boot):
                    y = (fe + rng.normal(0.0, 1500.0, len(uniques))[codes]
                         + rng.normal(0.0, 200.0, len(codes)))
                    sim = boot_df.assign(y=y)
                    smf.mixedlm(FIXED, sim, groups=sim["subject"]).fit(reml=True)

            t_sm, _ = _median_time(quiet(sm_refits), 1)
            t_sm *= args.nsim / args.sm_boot
            note = f" (extrapolated from {args.sm_boot})"
        bt = (r_out or {}).get("boot")
        if bt is not None and t_als is not None:
            ref_sd = pd.Series(bt["sd"]).rename(index={"(Intercept)": "Intercept"})
            ours = boot.ci.set_index("term")["std_error"].reindex(ref_sd.index)
            boot_agreement = float(np.max(np.abs(ours / ref_sd - 1)))
        rows.append((f"parametric bootstrap, {args.nsim} refits of `(1 \\| subject)`, "
                     f"{BASE_SUBJECTS} subjects{note}",
                     t_als, bt["times"][0] if bt else None, t_sm, ""))

    print()
    print("| work | alsstats s | lme4 s | statsmodels s | alsstats/lme4 | statsmodels/lme4 |")
    print("|---|---|---|---|---|---|")
    for work, a, r, s, sm_missing in rows:
        print(f"| {work} | {_fmt(a)} | {_fmt(r)} | {_fmt(s, sm_missing)} | {_ratio(a, r)} | {_ratio(s, r)} |")
    if agreement:
        print()
        print("Agreement with lme4 on the same data (REML `(1 + years \\| subject)`):")
        print()
        print("| subjects | implementation | max rel. diff. fixed effects | loglik - lme4 loglik |")
        print("|---|---|---|---|")
        for n, who, rel, dll in agreement:
            print(f"| {n:,} | {who} | {rel:.2g} | {dll:.3g} |")
    if peer_agreement:
        print("\nResidual variance vs lme4 on the same data (REML; invariant to contrast coding):\n")
        print("| subjects | implementation | model | rel. diff. residual variance |")
        print("|---|---|---|---|")
        for n, who, sites, rel in peer_agreement:
            model = "site + subject" if sites else "subject"
            print(f"| {n:,} | {who} | {model} | {rel:.2g} |")
    if satterthwaite_agreement is not None:
        print()
        print(f"Satterthwaite df, alsstats vs lmerTest ({BASE_SUBJECTS} subjects): max rel. diff. "
              f"{satterthwaite_agreement:.2g}")
    if boot_agreement is not None:
        print(f"Bootstrap SDs of the fixed effects, alsstats vs bootMer: max rel. diff. "
              f"{boot_agreement:.2g} (Monte Carlo error ~{1 / np.sqrt(2 * args.nsim):.0%})")
    if warned:
        print()
        print("warnings raised during timed runs: "
              + ", ".join(f"{k} x{v}" for k, v in sorted(warned.items())))
    if r_out is None:
        print()
        print(f"lme4: not available ({why})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
