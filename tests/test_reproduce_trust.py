"""`reproduce` on hostile and awkward tables (issue 9): column names are only names, file names
from data stay inside --out, nothing is dropped silently, and what cannot run is said."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import alsstats as als
from alsstats import pipeline
from alsstats.cli import main

BASIC = ["subject", "years", "group", "age", "sex", "wmh_mm3"]
SURVIVAL = [*BASIC, "survival_months", "event"]


@pytest.fixture(scope="module")
def cohort():
    return als.load_example_cohort()


def _files(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


def _quiet_reproduce(data, out):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", als.AlsstatsWarning)
        return als.reproduce(data, out, quiet=True)


# ----------------------------------------------------------------- item 4: names, not code


def test_quote_name_quotes_everything_but_plain_names():
    from alsstats.formula import quote_name

    assert quote_name("flair_cst") == "flair_cst"
    assert quote_name("flair_cst-left") == "`flair_cst-left`"
    assert quote_name("flair.cst") == "`flair.cst`"
    assert quote_name("if") == "`if`"
    assert quote_name("a`b") == "`a\\`b`"
    hostile = "flair_cst.__add__(0*__import__('os').system('touch x'))"
    assert quote_name(hostile) == f"`{hostile}`"


def test_code_in_a_column_name_never_runs(tmp_path, cohort, monkeypatch):
    pwned = tmp_path / "PWNED"
    name = f"flair_cst.__add__(0*__import__('os').system('touch {pwned}'))"
    table = cohort[[*BASIC, "flair_cst"]].rename(columns={"flair_cst": name})
    path = tmp_path / "their.csv"
    table.to_csv(path, index=False)
    monkeypatch.chdir(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", als.AlsstatsWarning)
        code = main(["reproduce", "--data", str(path), "--out", str(tmp_path / "out")])
    assert not pwned.exists(), "a shell command written in a CSV header was run"
    assert code == 0
    not_run = pd.read_csv(tmp_path / "out" / "tables" / "analyses_not_run.csv")
    ran = (tmp_path / "out" / "report.html").read_text().count("<h2>Quantitative FLAIR: flair_cst.")
    # either the name is analysed as the name it is, or the analysis is skipped and said so
    assert ran == 1 or not_run["analysis"].str.contains("flair_cst.__add__", regex=False).any()


def test_minus_in_a_column_name_is_not_subtraction(tmp_path, cohort):
    table = cohort[BASIC].assign(**{"flair_cst-left": cohort["flair_cst"] + 100.0,
                                    "left": 100.0})
    out = _quiet_reproduce(table, tmp_path / "out")
    not_run = pd.read_csv(out / "tables" / "analyses_not_run.csv")
    skipped = not_run["analysis"].str.contains("flair_cst-left", regex=False).any()
    coefficients = out / "tables" / "flair_cst-left_progression_coefficients.csv"
    if skipped:  # the formula layer refused the quoted name: said so, nothing wrong written
        assert not coefficients.exists()
        return
    intercept = pd.read_csv(coefficients, index_col="term").loc["Intercept", "estimate"]
    with warnings.catch_warnings():  # the same fit as inside reproduce, warnings and all
        warnings.simplefilter("ignore", als.AlsstatsWarning)
        right = als.fit_lme(cohort.assign(y=cohort["flair_cst"] + 100.0),
                            "y ~ group * years + age + sex + (1 | subject)")
    assert intercept == pytest.approx(right.coefficients.loc["Intercept", "estimate"], rel=1e-9)


# ----------------------------------------------------------------- item 5: file names


def test_safe_file_stem():
    from alsstats._outfolder import safe_file_stem

    assert "/" not in safe_file_stem("flair_/../../evil") and ".." not in safe_file_stem("a/../b")
    assert safe_file_stem("..") == "__"
    assert safe_file_stem("") == "unnamed" and safe_file_stem(" . ") == "unnamed"
    assert safe_file_stem("...") == "__"
    assert safe_file_stem("a\x00b\nc\x1b") == "a_b_c_"
    assert safe_file_stem("C:\\x\\y") == "C__x_y"
    long_one, long_two = safe_file_stem("x" * 500), safe_file_stem("x" * 499 + "y")
    assert len(long_one) <= 120 and long_one != long_two
    taken: set[str] = set()
    assert [safe_file_stem(n, taken) for n in ("a/b", "a:b", "A_B", "a_b-2")] == [
        "a_b", "a_b-2", "A_B-3", "a_b-2-2"]


def test_output_names_from_data_stay_inside_the_folder(tmp_path):
    folder = tmp_path / "deep" / "run"
    folder.mkdir(parents=True)
    run = pipeline._Run(folder, lambda message: None)
    frame = pd.DataFrame({"estimate": [1.0]})
    for name in ("flair_/../../../evil_progression_coefficients", "../../../../evil2",
                 "/tmp/evil3", "flair_x\ny", "flair_cst", "flair_cst"):
        run.table(name, frame)
    inside = {p.resolve() for p in folder.rglob("*.csv")}
    everywhere = {p.resolve() for p in tmp_path.rglob("*.csv")}
    assert everywhere == inside and len(inside) == 6
    assert all(p.parent == (folder / "tables").resolve() for p in inside)


def test_hostile_flair_column_writes_nothing_outside_out(tmp_path, cohort):
    work = tmp_path / "a" / "b"
    work.mkdir(parents=True)
    table = cohort[BASIC].assign(**{"flair_/../../evil": cohort["flair_cst"]})
    before = _files(tmp_path)
    out = _quiet_reproduce(table, work / "out")
    outside = _files(tmp_path) - before - {f"a/b/out/{f}" for f in _files(out)} - {"a/b/out"}
    assert outside == set()
    for path in out.rglob("*"):
        assert path.resolve().is_relative_to(out.resolve())
        assert "evil" not in path.name or path.name.startswith("flair_")


# ----------------------------------------------------------------- item 7: nothing silent


def test_subjects_without_baseline_wmh_are_listed_not_dropped(tmp_path, cohort):
    table = cohort[SURVIVAL].copy()
    als_subjects = table.loc[table["group"] == "ALS", "subject"].unique()[:3]
    first_visit = table["years"] == 0
    table.loc[table["subject"].isin(als_subjects) & first_visit, "wmh_mm3"] = np.nan
    out = _quiet_reproduce(table, tmp_path / "out")
    excluded = pd.read_csv(out / "tables" / "excluded_subjects.csv")
    survival = excluded[(excluded["analysis"] == "survival_analysis")
                        & excluded["reason"].str.contains("(Kaplan-Meier, log-rank, Cox)",
                                                          regex=False)]
    assert set(survival["subject"]) == set(als_subjects)
    assert survival["reason"].str.contains("no WMH at the baseline").all()
    html = (out / "report.html").read_text()
    assert "229 of 232 ALS subjects" in html
    assert "DroppedRowsWarning: survival: 3 of 232 ALS subjects left out" in html
    # the mixed model of the same step lists the visits it left out, subject by subject
    wmh = excluded[excluded["analysis"] == "wmh_progression"]
    assert set(wmh["subject"]) == set(als_subjects)
    assert wmh["reason"].str.fullmatch(r"1 of \d visits \(years 0\) left out: missing wmh_mm3").all()


def test_analysis_result_lists_left_out_visits(cohort):
    table = cohort[BASIC].copy()
    table.loc[table["subject"] == table["subject"].iloc[0], "wmh_mm3"] = np.nan
    table.loc[table.index[5], "wmh_mm3"] = np.nan
    with pytest.warns(als.DroppedRowsWarning):
        result = als.wmh_progression(table)
    reasons = result.excluded.set_index("subject")["reason"]
    assert reasons[table["subject"].iloc[0]].startswith("all ")
    assert "missing wmh_mm3" in reasons[table["subject"].iloc[5]]
    assert result.counts["n_subjects"].sum() == table["subject"].nunique() - 1


# ----------------------------------------------------------------- item 17: what cannot run


def _run_expecting_skips(table, out, *expected):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        als.reproduce(table, out, quiet=True)
    skipped = [str(w.message) for w in caught if w.category is als.SkippedAnalysisWarning]
    not_run = pd.read_csv(out / "tables" / "analyses_not_run.csv")
    html = (out / "report.html").read_text()
    assert "Analyses not run" in html
    for label in expected:
        assert any(label in message for message in skipped), (label, skipped)
        assert not_run["analysis"].str.contains(label, regex=False).any()
    return not_run


@pytest.mark.parametrize("case", ["no deaths", "all followed under 24 months",
                                  "only long survivors"])
def test_survival_cohorts_that_cannot_support_the_split(tmp_path, cohort, case):
    table = cohort[SURVIVAL].copy()
    is_als = table["group"] == "ALS"
    if case == "no deaths":
        table.loc[is_als, "event"] = 0.0
    elif case == "all followed under 24 months":
        table.loc[is_als, "survival_months"] = np.minimum(table.loc[is_als, "survival_months"],
                                                          20.0)
        table.loc[is_als, "event"] = 0.0
    else:
        table.loc[is_als, "survival_months"] += 30.0
    not_run = _run_expecting_skips(table, tmp_path / "out",
                                   "WMH progression, short vs long survivors")
    out = tmp_path / "out"
    assert (out / "figures" / "fig2a_wmh_als_vs_control.png").exists()  # the rest ran
    reason = not_run.set_index("analysis").loc["WMH progression, short vs long survivors",
                                               "reason"]
    assert "short" in reason
    if case != "only long survivors":
        assert "no events" in not_run.set_index("analysis").loc[
            "survival: Kaplan-Meier, log-rank, Cox", "reason"]


def test_no_wmh_in_als_and_one_group(tmp_path, cohort):
    table = cohort[[*SURVIVAL, "flair_cst"]].copy()
    table.loc[table["group"] == "ALS", "wmh_mm3"] = np.nan
    _run_expecting_skips(table, tmp_path / "no_wmh", "WMH progression, ALS vs controls",
                         "survival: Kaplan-Meier, log-rank, Cox")
    assert (tmp_path / "no_wmh" / "figures" / "flair_cst_als_vs_control.png").exists()
    only_als = cohort.loc[cohort["group"] == "ALS", SURVIVAL]
    _run_expecting_skips(only_als, tmp_path / "als_only", "WMH progression, ALS vs controls")
    assert (tmp_path / "als_only" / "figures" / "km_by_baseline_wmh.png").exists()


def test_cli_says_what_was_skipped(tmp_path, cohort, capsys):
    table = cohort[SURVIVAL].copy()
    table.loc[table["group"] == "ALS", "event"] = 0.0
    path = tmp_path / "v.csv"
    table.to_csv(path, index=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", als.AlsstatsWarning)
        assert main(["reproduce", "--data", str(path), "--out", str(tmp_path / "o")]) == 0
    err = capsys.readouterr().err
    assert "skipped survival: Kaplan-Meier, log-rank, Cox: survival: no events" in err
    assert "could not run (see the report)" in err


@pytest.mark.parametrize("name, content, expected", [
    ("empty.csv", b"", "is empty"),
    ("binary.csv", bytes(range(256)) * 20, "not a text table"),
    ("fake.parquet", b"subject,years\nS1,0\n", "as a Parquet file"),
    ("fake.csv.gz", b"subject,years\nS1,0\n", "as a CSV table"),
    ("header_only.csv", b"subject,years,group,age,sex\n", "no rows"),
    ("repeated.csv", b"subject,years,group,age,sex,age\nS1,0,ALS,60,F,61\n", "'age'"),
])
def test_unreadable_tables_are_one_line_errors(tmp_path, capsys, name, content, expected):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises((als.TableReadError, als.DataValidationError), match=expected):
        als.read_visits(path)
    out = tmp_path / "out"
    assert main(["reproduce", "--data", str(path), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and name in err and expected.strip("'") in err
    assert len(err.strip().splitlines()) == 1, err  # one line naming file and problem
    assert not out.exists()
    assert path.read_bytes() == content


def test_fifo_table_is_refused_not_read(tmp_path):
    fifo = tmp_path / "visits.csv"
    os.mkfifo(fifo)
    with pytest.raises(als.TableReadError, match="not a regular file"):
        als.read_visits(fifo)  # opening it would block forever


# ----------------------------------------------------------------- siblings


def test_simulate_never_writes_over_the_users_table(tmp_path, capsys):
    folder = tmp_path / "study"
    folder.mkdir()
    users = folder / "visits.csv"
    users.write_text("subject,years\nmine,0\n")
    assert main(["simulate", "--out", str(folder)]) == 1
    assert "not an earlier `alsstats simulate` output" in capsys.readouterr().err
    assert users.read_text() == "subject,years\nmine,0\n"
    assert sorted(p.name for p in folder.iterdir()) == ["visits.csv"]
    fresh = tmp_path / "sim"
    assert main(["simulate", "--out", str(fresh)]) == 0
    assert main(["simulate", "--out", str(fresh), "--seed", "1"]) == 0  # an earlier simulation


def test_empty_table_and_unknown_format_are_one_line_errors(tmp_path, cohort, capsys):
    with pytest.raises(als.DataValidationError, match="no rows"):
        als.reproduce(cohort.iloc[:0], tmp_path / "out", quiet=True)
    sheet = tmp_path / "visits.xlsx"
    sheet.write_bytes(b"PK\x03\x04 not really")
    assert main(["reproduce", "--data", str(sheet), "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and "unknown table format '.xlsx'" in err
    assert not (tmp_path / "out").exists()


def test_flair_phenotype_model_lists_who_it_leaves_out(cohort):
    table = cohort[[*BASIC, "flair_cst", "phenotype"]].copy()
    als_subjects = table.loc[table["group"] == "ALS", "subject"].unique()
    table.loc[table["subject"] == als_subjects[0], "phenotype"] = np.nan
    table.loc[table["subject"] == als_subjects[1], "phenotype"] = "bulbar"
    result = als.flair_progression(table, roi="flair_cst")
    reasons = result.excluded.set_index("subject")["reason"]
    assert reasons[als_subjects[0]] == "phenotype missing (phenotype model only)"
    assert reasons[als_subjects[1]].startswith("phenotype 'bulbar' is not one of")
    used = set(result.extra["phenotype_data"]["subject"])
    assert len(used) + 2 == len(als_subjects)


def test_terminal_escape_in_a_column_name_is_shown_escaped(tmp_path, cohort, capsys):
    name = "flair_\x1b[2J\x1b]0;owned\x07\rcst"
    table = cohort[BASIC].assign(**{name: cohort["flair_cst"]})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", als.AlsstatsWarning)
        als.reproduce(table, tmp_path / "o")  # progress on stderr
    err = capsys.readouterr().err
    assert "flair_\\x1b[2J" in err
    assert not any(ch in err for ch in "\x1b\x07\r")
    bad = cohort[BASIC].copy()
    bad["group"] = bad["group"].astype(object)
    bad.loc[bad.index[1], "group"] = "pat\x1b[2Jient"
    path = tmp_path / "v.csv"
    bad.to_csv(path, index=False)
    assert main(["reproduce", "--data", str(path), "--out", str(tmp_path / "o2")]) == 1
    err = capsys.readouterr().err
    assert "pat\\x1b[2Jient" in err and "\x1b" not in err
