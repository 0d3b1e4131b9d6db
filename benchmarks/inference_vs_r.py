"""Kenward-Roger and F tables, side by side: alsstats vs lmerTest/pbkrtest (one run).

Run from the repository root::

    python benchmarks/inference_vs_r.py            # 439 subjects, 15 repeats
    python benchmarks/inference_vs_r.py --repeats 5 --subjects 439,1000

The cohort is benchmarks/lme_vs_lme4.py's CALSNIC-like simulation (seeded), written as CSV with
17 significant digits so both sides fit the same numbers. R runs once (one ``Rscript``) and times
its own work internally (start-up and package loading not counted). Times are medians over
repeats after one untimed warm-up.

Work timed, ``y ~ group * years + age + sex + (1 + years | subject)`` by REML:

- plain fit: alsstats ``fit_lme(df_method="normal")`` / ``lme4::lmer``;
- fit + Kenward-Roger summary: ``fit_lme(df_method="kenward-roger")`` /
  ``summary(lmerTest::lmer(...), ddf = "Kenward-Roger")``;
- the same + type III F table with KR: ``.anova(3)`` / ``anova(m, type = 3, ddf = "Kenward-Roger")``;
- fit + Satterthwaite summary + type III F table (lmerTest's defaults).

The Python peer ``mixedlm`` (PyPI, Rust backend; installed in the benchmark's own environment, e.g. ``python -m venv /tmp/peers && /tmp/peers/bin/pip install mixedlm``, never as an alsstats dependency) is timed for the
same fit + ``kenward_roger_df`` + ``anova_type3(ddf_method="Kenward-Roger")``, and its KR df are
compared with pbkrtest's, here and on the reference models of tests/reference/inference.json
(where alsstats' own fits are compared too).

The "added" rows are (fit + KR [+ F table]) minus the plain fit; on a shared machine the
difference of two noisy medians is itself noisy, so the "alone" rows also time the KR summary and
the F table directly on an already fitted model (caches cleared every repeat).
The KR df and F values of both sides are compared in the same run.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from lme_vs_lme4 import RIRS, _median_time, simulate_cohort  # noqa: E402

R_SCRIPT = r"""
suppressPackageStartupMessages({ library(lmerTest); library(pbkrtest); library(jsonlite) })
args <- commandArgs(trailingOnly = TRUE)
cfg <- fromJSON(args[1])
d <- read.csv(cfg$csv, colClasses = c(subject = "character", group = "character",
                                     sex = "character"))
d$subject <- factor(d$subject)
d$group <- factor(d$group, levels = c("control", "ALS"))
d$sex <- factor(d$sex, levels = c("F", "M"))
f <- as.formula(cfg$formula)
now <- function() as.numeric(Sys.time())
timed <- function(fun, repeats) {
  fun()
  t <- numeric(repeats)
  for (r in seq_len(repeats)) { t0 <- now(); out <- fun(); t[r] <- now() - t0 }
  list(median = median(t), out = out)
}
plain <- timed(function() lme4::lmer(f, data = d), cfg$repeats)
kr <- timed(function() summary(lmerTest::lmer(f, data = d), ddf = "Kenward-Roger"), cfg$repeats)
kr_anova <- timed(function() {
  m <- lmerTest::lmer(f, data = d)
  list(summary(m, ddf = "Kenward-Roger"), anova(m, type = 3, ddf = "Kenward-Roger"))
}, cfg$repeats)
satt_anova <- timed(function() {
  m <- lmerTest::lmer(f, data = d)
  list(summary(m), anova(m, type = 3))
}, cfg$repeats)
m <- lmerTest::lmer(f, data = d)
cf <- coef(summary(m, ddf = "Kenward-Roger"))
a <- anova(m, type = 3, ddf = "Kenward-Roger")
res <- list(plain = plain$median, kr = kr$median, kr_anova = kr_anova$median,
            satt_anova = satt_anova$median, kr_df = unname(cf[, "df"]),
            kr_se = unname(cf[, "Std. Error"]), anova_f = unname(a[["F value"]]),
            anova_ddf = unname(a[["DenDF"]]), theta = unname(getME(m, "theta")))
writeLines(toJSON(res, auto_unbox = TRUE, digits = NA), args[2])
"""


def run_r(csv: Path, repeats: int, workdir: Path) -> dict | None:
    rscript = shutil.which("Rscript")
    if rscript is None:
        print("Rscript not found: R column n/a")
        return None
    script, cfg, out = workdir / "bench.R", workdir / "cfg.json", workdir / "out.json"
    script.write_text(R_SCRIPT)
    cfg.write_text(json.dumps({"csv": str(csv), "formula": RIRS, "repeats": repeats}))
    proc = subprocess.run([rscript, "--vanilla", str(script), str(cfg), str(out)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        print(f"Rscript failed: {proc.stderr[-500:]}")
        return None
    return json.loads(out.read_text())


def _mixedlm():
    try:
        import mixedlm
    except ImportError:
        return None
    return mixedlm


def mixedlm_kr(mixedlm, data, formula: str):
    """mixedlm's fit, KR df per coefficient and KR type III table."""
    fit = mixedlm.lmer(formula, data)
    df = np.asarray(mixedlm.kenward_roger_df(fit).df, dtype=float)
    return fit, df, mixedlm.anova_type3(fit, "Kenward-Roger")


def accuracy_on_references() -> None:
    """KR df of alsstats and mixedlm vs pbkrtest on the reference models."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "lme"))
    from test_inference_reference import REF, fits, load

    mixedlm = _mixedlm()
    print("\nKR df vs pbkrtest on tests/reference/inference.json (max relative difference)")
    print(f"{'model':<14}{'alsstats':>12}{'mixedlm':>12}")
    for name in ("sleepstudy", "orthodont", "bodyweight", "calsnic"):
        want = np.array(REF[name]["kr"]["df"])
        own, _ = fits(name)
        ours = np.max(np.abs(own.coefficients["df"].to_numpy() / want - 1))
        theirs = "n/a"
        if mixedlm is not None:
            data, formula = load(name)
            try:
                _, df, _ = mixedlm_kr(mixedlm, data, formula)
                theirs = f"{np.max(np.abs(df / want - 1)):12.2g}"
            except Exception as exc:  # noqa: BLE001 - a peer's failure is a result here
                theirs = f"failed: {type(exc).__name__}"
        print(f"{name:<14}{ours:12.2g}{theirs:>12}")


def bench(n: int, reps: int) -> None:
    """Time one cohort size on both sides and print the table."""
    from alsstats.lme import fit_lme
    from alsstats.lme.kenward_roger import kenward_roger_coefficients

    data = simulate_cohort(n, seed=0)
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "cohort.csv"
        data.to_csv(csv, index=False, float_format="%.17g")
        r = run_r(csv, reps, Path(tmp))
    t_plain, _ = _median_time(lambda: fit_lme(data, RIRS, df_method="normal"), reps, True)
    t_kr, fit = _median_time(lambda: fit_lme(data, RIRS, df_method="kenward-roger"), reps, True)

    def kr_anova():
        f = fit_lme(data, RIRS, df_method="kenward-roger")
        return f, f.anova(3)

    def satt_anova():
        f = fit_lme(data, RIRS)
        return f, f.anova(3)

    t_kr_anova, (_, tab_k) = _median_time(kr_anova, reps, True)
    t_satt_anova, _ = _median_time(satt_anova, reps, True)
    base = fit_lme(data, RIRS, df_method="normal")

    def kr_alone():
        base.__dict__.pop("_inference_cache", None)  # nothing reused between repeats
        return kenward_roger_coefficients(base)

    def kr_f_alone():
        base.__dict__.pop("_inference_cache", None)
        return kenward_roger_coefficients(base), base.anova(3, df_method="kenward-roger")

    t_kr_alone, _ = _median_time(kr_alone, reps, True)
    t_kr_f_alone, _ = _median_time(kr_f_alone, reps, True)
    mixedlm = _mixedlm()
    t_peer, peer = None, None
    if mixedlm is not None:
        t_peer, peer = _median_time(lambda: mixedlm_kr(mixedlm, data, RIRS), reps, True)
    rows = [("plain fit", t_plain, r and r["plain"]),
            ("fit + KR summary", t_kr, r and r["kr"]),
            ("fit + KR summary + type III F (KR)", t_kr_anova, r and r["kr_anova"]),
            ("fit + Satterthwaite summary + type III F", t_satt_anova, r and r["satt_anova"]),
            ("added by KR summary", t_kr - t_plain, r and r["kr"] - r["plain"]),
            ("added by KR summary + F table", t_kr_anova - t_plain,
             r and r["kr_anova"] - r["plain"]),
            ("KR summary alone, on a fitted model", t_kr_alone, None),
            ("KR summary + F table alone, on a fitted model", t_kr_f_alone, None)]
    print(f"\n{n} subjects, {len(data)} visits, median of {reps}")
    print(f"{'work':<48}{'alsstats s':>11}{'R s':>9}{'ratio':>8}")
    for name, a, b in rows:
        bs = f"{b:9.4f}" if b is not None else f"{'':>9}"
        ratio = f"{a / b:8.3f}" if b else f"{'':>8}"
        print(f"{name:<48}{a:11.4f}{bs}{ratio}")
    if t_peer is not None:
        print(f"Python peer mixedlm, fit + KR df + type III F (KR): {t_peer:.4f} s "
              f"(alsstats / mixedlm {t_kr_anova / t_peer:.3f})")
    if r is not None:
        c = fit.coefficients
        f_rel = np.max(np.abs(tab_k["f_value"] / np.array(r["anova_f"]) - 1))
        print(f"theta max |diff| {np.max(np.abs(fit.theta - np.array(r['theta']))):.2g} (lme4's "
              f"default stopping rule); KR df max |diff| "
              f"{np.max(np.abs(c['df'] - r['kr_df'])):.2g}; KR SE max rel diff "
              f"{np.max(np.abs(c['std_error'] / np.array(r['kr_se']) - 1)):.2g}; F max rel "
              f"diff {f_rel:.2g}; F den df max |diff| "
              f"{np.max(np.abs(tab_k['den_df'] - r['anova_ddf'])):.2g}")
        if peer is not None:
            peer_df = peer[1]
            print(f"mixedlm: KR df max rel diff from pbkrtest "
                  f"{np.max(np.abs(peer_df / np.array(r['kr_df']) - 1)):.2g}; alsstats "
                  f"{np.max(np.abs(c['df'].to_numpy() / np.array(r['kr_df']) - 1)):.2g}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", default="439")
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    for n in (int(s) for s in args.subjects.split(",")):
        bench(n, args.repeats)
    accuracy_on_references()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
