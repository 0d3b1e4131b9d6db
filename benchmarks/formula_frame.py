"""Formula-to-matrices speed, side by side: alsstats' formula layer vs patsy vs R's lme4.

Run from the repository root::

    python benchmarks/formula_frame.py            # 439, 4,390 and 43,900 subjects
    python benchmarks/formula_frame.py --quick    # 439 and 4,390

Work timed: ``wmh_mm3 ~ group * years + age + sex + (1 + years | subject)`` to the response,
the fixed-effects matrix, the random-effects matrix and the subject codes, on the shipped
cohort (439 subjects) and on copies of it with renamed subjects (x10, x100). alsstats:
``alsstats.lme.formula.build_model_frame``; patsy (the formula library alsstats used before):
``dmatrices`` of the fixed part plus ``dmatrix`` of the random part plus ``pd.factorize`` of
the subject; R: ``lme4::lFormula`` (model frame, fixed matrix and ``reTrms``), timed inside one
``Rscript`` so start-up is not counted. Medians over repeats after one warm-up; the ratio
column is alsstats / R.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

FORMULA = "wmh_mm3 ~ group * years + age + sex + (1 + years | subject)"


def cohort(copies: int) -> pd.DataFrame:
    import alsstats as als

    v = als.load_example_cohort()
    v = v.loc[v["wmh_mm3"].notna(), ["subject", "years", "group", "age", "sex", "wmh_mm3"]]
    out = pd.concat([v.assign(subject=v["subject"] + f"_{k}") for k in range(copies)],
                    ignore_index=True)
    out.attrs = {}
    return out


def timed(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def alsstats_time(data: pd.DataFrame, repeats: int) -> float:
    from alsstats.lme.formula import build_model_frame

    return timed(lambda: build_model_frame(FORMULA, data), repeats)


def patsy_time(data: pd.DataFrame, repeats: int) -> float | None:
    try:
        import patsy
    except ImportError:
        return None

    def build():
        patsy.dmatrices("wmh_mm3 ~ group * years + age + sex", data)
        patsy.dmatrix("1 + years", data)
        pd.factorize(data["subject"], sort=True)

    return timed(build, repeats)


def r_times(frames: dict[int, pd.DataFrame], repeats: int) -> dict[int, float | None]:
    if shutil.which("Rscript") is None:
        print("R: Rscript not found; R column n/a", file=sys.stderr)
        return dict.fromkeys(frames)
    out: dict[int, float | None] = {}
    with tempfile.TemporaryDirectory() as tmp:
        lines = ["suppressPackageStartupMessages(library(lme4))"]
        for n, data in frames.items():
            path = Path(tmp) / f"d{n}.csv"
            data.to_csv(path, index=False)
            lines += [
                f"d <- read.csv('{path}', stringsAsFactors = FALSE)",
                f"f <- {FORMULA}",
                "invisible(lFormula(f, d))",
                f"t <- sapply(1:{repeats}, function(i) system.time(lFormula(f, d))[['elapsed']])",
                f"cat({n}, median(t), '\\n')",
            ]
        script = Path(tmp) / "bench.R"
        script.write_text("\n".join(lines))
        result = subprocess.run(["Rscript", str(script)], capture_output=True, text=True)
        if result.returncode != 0:
            print(f"R failed: {result.stderr.strip()[:300]}", file=sys.stderr)
            return dict.fromkeys(frames)
        for line in result.stdout.splitlines():
            n, seconds = line.split()
            out[int(n)] = float(seconds)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    copies = [1, 10] if args.quick else [1, 10, 100]
    frames = {439 * c: cohort(c) for c in copies}
    repeats = {439: 30, 4390: 10, 43900: 5}
    r = r_times(frames, 10)
    print("| subjects | rows | alsstats ms | patsy ms | lme4 lFormula ms | alsstats / R |")
    print("|---|---|---|---|---|---|")
    for n, data in frames.items():
        a = alsstats_time(data, repeats[n])
        p = patsy_time(data, repeats[n])
        rt = r.get(n)
        cells = [f"{1000 * a:.1f}", f"{1000 * p:.1f}" if p else "n/a",
                 f"{1000 * rt:.1f}" if rt else "n/a", f"{a / rt:.2f}" if rt else "n/a"]
        print(f"| {n:,} | {len(data):,} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
