"""`alsstats reproduce` and the command line: outputs, numbers, all-or-nothing writes."""

from __future__ import annotations

import html
import re
import warnings
from pathlib import Path

import pandas as pd
import pytest

import alsstats as als
from alsstats import pipeline as reproduce_module
from alsstats.cli import main

_DRAWN: dict = {}  # file stem -> the matplotlib Figure the run saved under it
_CAPTIONS: dict = {}  # file stem -> the caption the report prints under it


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "results"
    real_save = reproduce_module.save_figure

    def save_and_keep(figure, path, *args, **kwargs):
        # Keeps each figure the run saves (the real save still runs) so the tests can read
        # what is drawn on it.
        _DRAWN[Path(path).name] = figure
        return real_save(figure, path, *args, **kwargs)

    real_figure = reproduce_module._Run.figure

    def figure_and_caption(run, name, *args, **kwargs):
        shown = real_figure(run, name, *args, **kwargs)
        _CAPTIONS[Path(shown.path).stem] = shown.caption
        return shown

    with warnings.catch_warnings(), pytest.MonkeyPatch.context() as patch:
        warnings.simplefilter("ignore", als.AlsstatsWarning)
        patch.setattr(reproduce_module, "save_figure", save_and_keep)
        patch.setattr(reproduce_module._Run, "figure", figure_and_caption)
        code = main(["reproduce", "--out", str(out)])
    assert code == 0
    return out


@pytest.fixture(scope="module")
def drawn(results):
    return _DRAWN


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


def _caption(results, stem: str) -> str:
    caption = _CAPTIONS[stem]
    assert html.escape(caption) in (results / "report.html").read_text()
    return caption


def test_km_figure_shows_logrank_and_worded_groups(results, drawn):
    from alsstats.plotting import legend_texts

    ax = drawn["km_by_baseline_wmh"].axes[0]
    logrank = pd.read_csv(results / "tables" / "logrank_baseline_wmh.csv")
    p_text = [t.get_text() for t in ax.texts if t.get_gid() == "logrank"]
    assert len(p_text) == 1 and "Log-rank" in p_text[0]
    assert re.search(r"p [=<] ?0?\.\d+", p_text[0]), p_text
    legend = legend_texts(ax)
    assert any(t.startswith("WMH at or below median (n = ") for t in legend), legend
    assert any(t.startswith("WMH above median (n = ") for t in legend), legend
    assert not any("Low WMH" in t or "High WMH" in t for t in legend), legend
    assert any("95% CI" in t for t in legend), legend  # the band's level, not a bare "CI"
    caption = _caption(results, "km_by_baseline_wmh")
    assert "WMH above median" in caption and "log-rank" in caption.lower()
    assert f"{logrank['chisq'].iloc[0]:.2f}" in caption


def test_forest_figure_has_title_matching_caption(results, drawn):
    ax = drawn["forest_cox"].axes[0]
    title = ax.get_title(loc="left")
    assert title.startswith("Cox model"), title
    cox_n = re.search(r"n = (\d+), (\d+) events", title)
    assert cox_n, title
    caption = _caption(results, "forest_cox")
    assert f"n = {cox_n.group(1)} ALS patients, {cox_n.group(2)} events" in caption
    assert [t.get_text() for t in ax.get_yticklabels()] == [
        "WMH (per 1000 mm³)", "Age (per year)", "Male sex"]


def test_trajectory_and_association_figures_name_their_ci_level(drawn):
    from alsstats.plotting import legend_texts

    for stem in ("fig2a_wmh_als_vs_control", "fig3a_alsfrs_vs_wmh",
                 "fig3b_alsfrs_vs_wmh_by_survival", "flair_cst_by_phenotype"):
        legend = legend_texts(drawn[stem].axes[0])
        assert any("95% CI" in t for t in legend), (stem, legend)
    assoc = legend_texts(drawn["fig3a_alsfrs_vs_wmh"].axes[0])
    assert any(re.search(r"\d+ visits, \d+ subjects", t) for t in assoc), assoc
