"""`alsstats reproduce` and the command line: outputs, numbers, all-or-nothing writes."""

from __future__ import annotations

import re
import warnings

import pandas as pd
import pytest

import alsstats as als
from alsstats import pipeline as reproduce_module
from alsstats.cli import main


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "results"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", als.AlsstatsWarning)
        code = main(["reproduce", "--out", str(out)])
    assert code == 0
    return out


EXPECTED_FIGURES = [
    "fig2a_wmh_als_vs_control", "fig2b_wmh_short_vs_long", "fig3a_alsfrs_vs_wmh",
    "fig3b_alsfrs_vs_wmh_by_survival", "km_by_baseline_wmh", "forest_cox",
    "flair_cst_als_vs_control", "flair_cst_by_phenotype", "flair_cc_als_vs_control",
]  # fmt: skip


def test_figures_tables_report_written(results):
    for stem in EXPECTED_FIGURES:
        for suffix in (".png", ".pdf"):
            path = results / "figures" / f"{stem}{suffix}"
            assert path.stat().st_size > 1000, path
    tables = {p.stem for p in (results / "tables").glob("*.csv")}
    assert {"headline_effects", "cohort", "excluded_subjects", "wmh_progression_coefficients",
            "cox_efron", "cox_breslow", "km_median_by_baseline_wmh"} <= tables
    assert not list(results.parent.glob(".results.*")), "staging folders left behind"


def test_report_has_figures_counts_exclusions_methods(results):
    html = (results / "report.html").read_text()
    assert len(re.findall(r'src="data:image/png;base64,', html)) >= len(EXPECTED_FIGURES)
    assert "Satterthwaite" in html and "REML" in html and "Efron" in html
    assert "Table 1: baseline characteristics" in html
    excluded = pd.read_csv(results / "tables" / "excluded_subjects.csv")
    assert len(excluded) > 0 and excluded["reason"].notna().all()
    assert "censored at or before the cut-off" in html


def test_tables_equal_fit_lme(results):
    table = pd.read_csv(results / "tables" / "wmh_progression_coefficients.csv",
                        index_col="term")
    visits = als.load_example_cohort()
    direct = als.fit_lme(visits, "wmh_mm3 ~ group * years + age + sex + (1 | subject)")
    for column in ["estimate", "std_error", "df", "statistic", "p_value", "ci_low", "ci_high"]:
        pd.testing.assert_series_equal(table[column], direct.coefficients[column],
                                       check_exact=False, rtol=1e-9, check_names=False)
    headline = pd.read_csv(results / "tables" / "headline_effects.csv")
    row = headline[(headline["analysis"] == "wmh_progression")].iloc[0]
    assert row["term"] == "groupALS:years"
    assert row["estimate"] == pytest.approx(
        direct.coefficients.loc["groupALS:years", "estimate"], rel=1e-9)


def test_bad_table_stops_before_writing(tmp_path, capsys):
    visits = als.load_example_cohort()
    visits.loc[visits.index[5], "age"] = 250.0
    path = tmp_path / "visits.csv"
    visits.to_csv(path, index=False)
    out = tmp_path / "out"
    with pytest.raises(als.DataValidationError, match="'age'"):
        als.reproduce(path, out)
    assert main(["reproduce", "--data", str(path), "--out", str(out)]) == 1
    message = capsys.readouterr().err
    assert "alsstats reproduce: error:" in message and "'age'" in message and "250.0" in message
    assert "Traceback" not in message
    assert not out.exists()
    assert list(tmp_path.iterdir()) == [path]


def test_failed_run_leaves_previous_results_untouched(tmp_path, monkeypatch):
    out = tmp_path / "out"
    minimal = als.load_example_cohort()[["subject", "years", "group", "age", "sex", "wmh_mm3"]]
    als.reproduce(minimal, out, quiet=True)
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}

    def broken_step(run, visits, roi, done):
        raise RuntimeError("disk full (simulated)")

    monkeypatch.setattr(reproduce_module, "_flair_roi", broken_step)
    with pytest.raises(RuntimeError, match="simulated"), warnings.catch_warnings():
        warnings.simplefilter("ignore", als.AlsstatsWarning)
        als.reproduce(out=out, quiet=True)
    after = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_minimal_table_runs_what_it_allows(tmp_path):
    visits = als.load_example_cohort()[["subject", "years", "group", "age", "sex", "wmh_mm3"]]
    out = tmp_path / "minimal"
    als.reproduce(visits, out, quiet=True)
    figures = sorted(p.stem for p in (out / "figures").glob("*.png"))
    assert figures == ["fig2a_wmh_als_vs_control"]
    assert (out / "report.html").exists()


def test_progress_goes_to_stderr(tmp_path, capsys):
    visits = als.load_example_cohort()[["subject", "years", "group", "age", "sex", "wmh_mm3"]]
    als.reproduce(visits, tmp_path / "r")
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "running WMH progression" in captured.err


def test_cli_help_and_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"alsstats {als.__version__}"
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    for command in ("simulate", "volumes", "reproduce"):
        assert command in text
    assert main([]) == 0


def test_outputs_get_the_users_usual_permissions(tmp_path):
    import os
    import stat

    visits = als.load_example_cohort()[["subject", "years", "group", "age", "sex", "wmh_mm3"]]
    previous = os.umask(0o022)
    try:
        out = als.reproduce(visits, tmp_path / "shared", quiet=True)
    finally:
        os.umask(previous)
    assert stat.S_IMODE(out.stat().st_mode) == 0o755
    for path in [out / "report.html", out / "tables" / "cohort.csv",
                 out / "figures" / "fig2a_wmh_als_vs_control.png"]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, path
