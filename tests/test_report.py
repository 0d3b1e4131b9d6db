"""The report a co-author reads: what ran, Table 1, tables as papers print them (issue 14)."""

from __future__ import annotations

import json
import re
import warnings
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest

import alsstats as als
from alsstats.cli import main
from alsstats.formatting import format_ci, format_estimate, format_p_value, term_label
from alsstats.table_one import baseline_characteristics


class _Tables(HTMLParser):
    """Every <table> of a page as a header row and body rows of cell texts."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[dict[str, list]] = []
        self._cell: list[str] | None = None
        self._row: list[str] | None = None
        self._in_head = False

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append({"header": [], "rows": []})
        elif tag == "thead":
            self._in_head = True
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag == "thead":
            self._in_head = False
        elif tag in ("td", "th") and self._cell is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            if self._in_head:
                self.tables[-1]["header"] = self._row
            else:
                self.tables[-1]["rows"].append(self._row)
            self._row = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def _tables(html: str) -> list[dict[str, list]]:
    parser = _Tables()
    parser.feed(html)
    return parser.tables


@pytest.fixture(scope="module")
def full_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "results"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", als.AlsstatsWarning)
        als.reproduce(out=out, quiet=True)
    return out


# ------------------------------------------------------------------ what ran, what did not


def test_skipped_analyses_named_on_console_report_and_manifest(tmp_path, capsys):
    cohort = als.load_example_cohort()
    drop = ["survival_months", "event", "alsfrs_r"] + [
        c for c in cohort.columns if re.fullmatch(r"alsfrs_\d+[ab]?", c)]
    table = cohort.drop(columns=[c for c in drop if c in cohort.columns])
    path = tmp_path / "no_survival.csv"
    table.to_csv(path, index=False)
    out = tmp_path / "out"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", als.AlsstatsWarning)
        assert main(["reproduce", "--data", str(path), "--out", str(out)]) == 0
    console = capsys.readouterr().err
    manifest = json.loads((out / "manifest.json").read_text())
    status = {a["analysis"]: a for a in manifest["analyses"]}
    html = (out / "report.html").read_text()
    needs = {
        "WMH progression, short vs long survivors": {"survival_months", "event"},
        "survival: Kaplan-Meier, log-rank, Cox": {"survival_months", "event"},
        "joint model of WMH and survival": {"survival_months", "event"},
        "ALSFRS-R vs WMH": {"alsfrs_r"},
        "qFLAIR change vs clinical decline": {"alsfrs_r"},
        "phenotype classification with qFLAIR": {"alsfrs_r"},
    }
    for label, columns in needs.items():
        assert status[label]["status"] == "skipped", label
        assert set(status[label]["needs_columns"]) == columns, label
        for column in columns:
            assert column in status[label]["reason"]
        assert re.search(rf"{re.escape(label)}: skipped: needs columns? \S", console), label
        assert re.search(rf"skipped</span> — {re.escape(label)}: needs column", html), label
    for label in ("WMH progression, ALS vs controls", "quantitative FLAIR: flair_cst"):
        assert status[label]["status"] == "ran"
        assert f"{label}: ran" in console
    assert "survival" not in " ".join(p.name for p in (out / "figures").iterdir())
    # the header says where the data came from, byte for byte
    import hashlib

    assert manifest["data"]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert manifest["data"]["sha256"] in html and "no_survival.csv" in html
    assert manifest["data"]["n_subjects"] == table["subject"].nunique()
    assert manifest["command"].startswith("alsstats reproduce --data")
    assert manifest["command"] in html
    assert manifest["versions"]["alsstats"] == als.__version__ and "numpy" in manifest["versions"]


def test_manifest_of_a_full_run_says_everything_ran(full_run):
    manifest = json.loads((full_run / "manifest.json").read_text())
    assert {a["status"] for a in manifest["analyses"]} == {"ran"}
    assert len(manifest["analyses"]) >= 8
    # the singular stage-1 fit of the qFLAIR association is named by its model
    assert any(c["check"] == "boundary (singular) fit" for c in manifest["model_checks"])
    assert any(c["check"].startswith("proportional hazards") for c in manifest["model_checks"])


# ------------------------------------------------------------------ Table 1


def _first_visits(visits: pd.DataFrame) -> pd.DataFrame:
    return visits.loc[visits.groupby("subject")["years"].idxmin()].set_index("subject")


def _row(table, characteristic, group, level=""):
    t = table.table
    match = t[(t["characteristic"] == characteristic) & (t["group"] == group)
              & (t["level"] == level)]
    assert len(match) == 1, (characteristic, group, level)
    return match.iloc[0]


def test_table_one_by_group_against_pandas():
    visits = als.validate_visits(als.load_example_cohort())
    rng = np.random.default_rng(3)
    visits.loc[rng.choice(visits.index, 40, replace=False), "wmh_mm3"] = np.nan  # some missing
    table = baseline_characteristics(visits, by="group")
    first = _first_visits(visits)
    last = visits.groupby("subject")["years"].max()
    assert table.groups == ["control", "ALS", "All"]
    for group in ["control", "ALS", "All"]:
        part = first if group == "All" else first[first["group"] == group]
        assert _row(table, "subjects", group)["value"] == len(part)
        age = _row(table, "age", group)
        assert age["value"] == pytest.approx(part["age"].mean(), rel=1e-12)
        assert age["sd"] == pytest.approx(part["age"].std(ddof=1), rel=1e-12)
        for sex in ("F", "M"):
            row = _row(table, "sex", group, sex)
            assert row["value"] == (part["sex"] == sex).sum()
            assert row["percent"] == pytest.approx(100 * (part["sex"] == sex).mean())
        for site, count in part["site"].value_counts().items():
            assert _row(table, "site", group, site)["value"] == count
        wmh = _row(table, "wmh_mm3", group)
        values = part["wmh_mm3"].dropna()
        assert wmh["n"] == len(values) < len(part) or group == "control"
        assert wmh["value"] == pytest.approx(np.median(values))
        assert wmh["q1"] == pytest.approx(np.percentile(values, 25))
        assert wmh["q3"] == pytest.approx(np.percentile(values, 75))
        follow = (last - visits.groupby("subject")["years"].min()).loc[part.index]
        assert _row(table, "follow_up_years", group)["value"] == pytest.approx(follow.median())
    als_part = first[first["group"] == "ALS"]
    deaths = _row(table, "deaths", "ALS")
    assert deaths["value"] == (als_part["event"] == 1).sum()
    assert deaths["n"] == als_part["event"].notna().sum()
    alsfrs = _row(table, "alsfrs_r", "ALS")
    assert alsfrs["value"] == pytest.approx(als_part["alsfrs_r"].mean())
    assert alsfrs["sd"] == pytest.approx(als_part["alsfrs_r"].std())


def test_table_one_by_survival_group_and_phenotype_against_pandas():
    visits = als.validate_visits(als.load_example_cohort())
    patients = visits[visits["group"] == "ALS"]
    first = _first_visits(patients)
    short = first[(first["event"] == 1) & (first["survival_months"] <= 24)]
    long = first[first["survival_months"] > 24]
    table = baseline_characteristics(patients, by="survival_group", cutoff_months=24)
    short_label, long_label, unclassified = table.groups[:3]
    assert short_label.startswith("short") and long_label.startswith("long")
    assert _row(table, "subjects", short_label)["value"] == len(short)
    assert _row(table, "subjects", long_label)["value"] == len(long)
    assert _row(table, "subjects", unclassified)["value"] == len(first) - len(short) - len(long)
    assert _row(table, "age", long_label)["value"] == pytest.approx(long["age"].mean())
    by_phenotype = baseline_characteristics(patients, by="phenotype")
    assert by_phenotype.groups[:-1] == sorted(first["phenotype"].dropna().unique(),
                                              key=str.casefold)
    for phenotype, part in first.groupby("phenotype"):
        assert _row(by_phenotype, "subjects", phenotype)["value"] == len(part)
        assert _row(by_phenotype, "wmh_mm3", phenotype)["value"] == pytest.approx(
            part["wmh_mm3"].median())


def test_table_one_in_the_report_shows_the_pandas_numbers(full_run):
    html = (full_run / "report.html").read_text()
    visits = als.validate_visits(als.load_example_cohort())
    first = _first_visits(visits)
    als_part = first[first["group"] == "ALS"]
    assert f"{als_part['age'].mean():.1f} ({als_part['age'].std():.1f})" in html
    assert f"ALS (n = {len(als_part)})" in html
    table1 = pd.read_csv(full_run / "tables" / "table1_by_group.csv")
    assert set(table1["group"]) == {"control", "ALS", "All"}


# ------------------------------------------------------------------ tables as papers print them


def test_no_index_column_and_no_scientific_notation(full_run):
    html = (full_run / "report.html").read_text()
    tables = _tables(html)
    assert len(tables) >= 15
    scientific = re.compile(r"\d[eE][+\-−]?\d")
    for table in tables:
        header, rows = table["header"], table["rows"]
        assert header and all(header), header  # every column is named: no bare index
        first_column = [r[0] for r in rows if len(r) == len(header)]
        assert first_column != [str(i) for i in range(len(first_column))], header
        for row in rows:
            for cell in row:
                assert not scientific.search(cell), (header, cell)
        if "p" in header:
            at = header.index("p")
            for row in rows:
                if len(row) == len(header):
                    assert re.fullmatch(r"< 0\.001|[01]\.\d{3}|—", row[at]), row[at]
    headline = next(t for t in tables if "95% CI" in t["header"] and "R term" in t["header"])
    assert any(r[:2] == ["ALS (vs control) × time since baseline MRI (per year)",
                         "groupALS:years"] for t in tables for r in t["rows"])
    assert "mm³/year" in " ".join(" ".join(r) for r in headline["rows"])


def test_figures_numbered_with_captions_and_sections_navigable(full_run):
    html = (full_run / "report.html").read_text()
    numbers = [int(n) for n in re.findall(r"<b>Figure (\d+)\.</b>", html)]
    assert numbers == list(range(1, len(numbers) + 1)) and len(numbers) >= 9
    import html as html_module

    text = html_module.unescape(html)
    assert "thin faint lines: one subject's observed visits" in text
    assert "numbers at risk under the axis" in text
    anchors = re.findall(r"<a href='#([^']+)'>", html)
    assert anchors and all(f"<section id='{a}'>" in html for a in anchors)
    assert "<details>" in html and "@media print" in html


def test_methods_come_from_the_results(full_run):
    html = (full_run / "report.html").read_text()
    methods = html[html.index("<h2>Methods</h2>"):]
    assert "wmh_mm3 ~ group * years + age + sex + (1 | subject)" in methods
    assert "survival cut-off (months): 24" in methods
    source = (als.pipeline.__file__ if hasattr(als, "pipeline") else None)
    if source is None:
        import alsstats.pipeline as pipeline

        source = pipeline.__file__
    text = open(source, encoding="utf-8").read()
    assert "24 months" not in text and "95%" not in text


def test_exclusions_grouped_per_analysis(full_run):
    html = (full_run / "report.html").read_text()
    excluded = pd.read_csv(full_run / "tables" / "excluded_subjects.csv")
    section = html[html.index("<h2>Excluded subjects</h2>"):html.index("<h2>Methods</h2>")]
    shown = excluded["label"].fillna(excluded["analysis"])
    assert shown.nunique() >= 4
    for analysis, rows in excluded.groupby(shown):
        assert f"{analysis}: {rows['subject'].nunique()} subject(s)" in section
    assert section.count("<details>") < len(excluded)  # grouped, not one line per row


# ------------------------------------------------------------------ the formatters


def test_formatters():
    assert format_p_value(1.137e-106) == "< 0.001"
    assert format_p_value(0.00099) == "< 0.001"
    assert format_p_value(0.001) == "0.001"
    assert format_p_value(0.63231) == "0.632"
    assert format_estimate(860.63, 75.03) == "861"
    assert format_estimate(-1.00523, 0.02692) == "−1.005"
    assert format_estimate(6.778e-05, 0.004831) == "0.0001"
    assert format_ci(-0.01111, 0.1108, 0.0311, 0.04985) == "−0.011 to 0.111"
    assert format_estimate(12345678.9, 20.0) == "12,345,679"
    for value in (1e-12, 3.2e-7, 1e20):
        assert "e" not in format_estimate(value).lower()
    assert term_label("survival_groupshort:years") == (
        "Short survivors (vs long) × time since baseline MRI (per year)")
    assert term_label("wmh_per_1000") == "WMH (per 1000 mm³)"
    assert term_label("some_unknown_term") == "some_unknown_term"


def test_full_model_summaries_come_from_the_one_renderer(full_run):
    """Each model's ``summary().as_html()`` is in the report, collapsed under its analysis."""
    html = (full_run / "report.html").read_text()
    assert "Full model summaries" in html
    labels = re.findall(r"<details class='model-summary'><summary>([^<]+)</summary>", html)
    assert "WMH progression, ALS vs controls" in labels
    assert "survival: Kaplan-Meier, log-rank, Cox" in labels
    assert len(labels) == len(set(labels)) >= 8
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", als.AlsstatsWarning)
        model = als.wmh_progression(als.load_example_cohort()).model
    assert model.summary().as_html() in html
