"""Writing results to disk: tables, figures and a one-page HTML report.

Everything here is I/O. Every file is written to a temporary name beside its target and
renamed into place, so an interrupted run never leaves a half-written file.
"""

from __future__ import annotations

import base64
import html
import os
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["AnalysisStatus", "ModelCheck", "ReportFigure", "ReportSection", "ReportTable",
           "atomic_write_bytes", "save_figure", "write_report", "write_table"]


def atomic_write_bytes(path: str | os.PathLike[str], payload: bytes) -> Path:
    """Write ``payload`` to ``path`` through a temporary sibling and an atomic rename.

    The sibling is created with ``open(..., "xb")`` under a unique name, so the file gets the
    user's usual permissions (umask); ``tempfile.mkstemp`` would leave it readable by its
    owner only.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex}.tmp")
    try:
        with open(temporary, "xb") as stream:
            stream.write(payload)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return path


def write_table(table: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write a tidy table as CSV (index kept when it is named, e.g. ``term``)."""
    keep_index = table.index.name is not None or any(n is not None for n in table.index.names)
    text = table.to_csv(index=keep_index, float_format="%.10g")
    return atomic_write_bytes(path, text.encode())


def save_figure(figure, stem: str | os.PathLike[str], formats: Sequence[str] = ("png", "pdf"),
                dpi: int = 200) -> list[Path]:
    """Save a matplotlib figure as ``stem.png`` and ``stem.pdf`` (atomically), TrueType fonts
    embedded in the PDF."""
    import io

    from alsstats.plotting import truetype_fonts

    written = []
    for fmt in formats:
        buffer = io.BytesIO()
        with truetype_fonts():
            figure.savefig(buffer, format=fmt, dpi=dpi, bbox_inches="tight")
        written.append(atomic_write_bytes(Path(f"{stem}.{fmt}"), buffer.getvalue()))
    return written


# --------------------------------------------------------------------------- the HTML report


@dataclass
class ReportFigure:
    """A figure of the report: the PNG file and a caption saying what is drawn (the report
    numbers the figures)."""

    path: Path
    caption: str


@dataclass
class ReportTable:
    """A table of results, with what the report needs to format it as papers do.

    ``frame`` holds full-precision numbers (tidy columns such as ``estimate, std_error, df,
    statistic, p_value, ci_low, ci_high``, optional ``units``/``description``; an index
    named ``term`` is shown as a column). ``ci_level`` heads the confidence-interval column;
    ``units`` is the unit of the estimates when the frame has no ``units`` column;
    ``statistic`` names the test statistic (``t``, ``z``, ``chi-square``).
    """

    frame: pd.DataFrame
    ci_level: float | None = None
    units: str | None = None
    statistic: str = "t"
    note: str = ""


@dataclass
class ReportSection:
    """One section of the HTML report: a heading, prose, figures and tables."""

    title: str
    text: str = ""
    figures: list[ReportFigure] = field(default_factory=list)
    tables: dict[str, pd.DataFrame | ReportTable] = field(default_factory=dict)
    anchor: str = ""
    details: list[tuple[str, Any]] = field(default_factory=list)
    """``(label, summary)`` pairs shown collapsed: ``summary`` is an :class:`alsstats.Summary`
    (anything with ``as_html()``), rendered by the one summary renderer."""


@dataclass
class AnalysisStatus:
    """Whether an analysis ran: ``status`` is ``"ran"`` or ``"skipped"``; ``reason`` says why
    not (``"needs column alsfrs_r"``)."""

    label: str
    status: str
    reason: str = ""
    needs_columns: list[str] = field(default_factory=list)


@dataclass
class ModelCheck:
    """A model check in words: ``ok`` False flags it in the report."""

    model: str
    check: str
    finding: str
    ok: bool = True


_STYLE = """
*, *::before, *::after { box-sizing: border-box; }
body { font-family: -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif; max-width: 60rem;
       margin: 2em auto; padding: 0 1.2em; color: #222; line-height: 1.45; font-size: 15px; }
h1 { font-size: 1.6em; margin-bottom: 0.3em; }
h2 { font-size: 1.25em; border-bottom: 1px solid #ccc; margin-top: 2em; padding-bottom: 0.15em; }
h3 { font-size: 1.02em; margin: 1.2em 0 0.3em; }
dl.header { display: grid; grid-template-columns: max-content 1fr; gap: 0.15em 1em;
            font-size: 0.92em; margin: 0.6em 0 1em; }
dl.header dt { font-weight: 600; color: #444; } dl.header dd { margin: 0; overflow-wrap: anywhere; }
code, .rterm { font-family: 'DejaVu Sans Mono', Menlo, Consolas, monospace; font-size: 0.85em; }
nav.toc { background: #f7f7f7; border: 1px solid #e2e2e2; padding: 0.4em 1em; font-size: 0.92em; }
nav.toc ol { margin: 0.3em 0; padding-left: 1.4em; columns: 2; column-gap: 2em; }
table { border-collapse: collapse; margin: 0.4em 0 0.8em; font-size: 0.86em; max-width: 100%; }
table.wide { width: 100%; }
th, td { border-bottom: 1px solid #ddd; padding: 3px 7px; text-align: right; vertical-align: top;
         overflow-wrap: break-word; }
thead th { border-bottom: 2px solid #555; background: #f3f3f3; }
td.text, th.text { text-align: left; }
td.num { white-space: nowrap; font-variant-numeric: tabular-nums; }
td.num .unit { white-space: normal; color: #444; }
table.table-one td.num { white-space: normal; }
table.table-one td:first-child { min-width: 12em; }
tr.group td { font-weight: 600; text-align: left; background: #fafafa; }
figure { margin: 1em 0; break-inside: avoid; }
figure img { width: 40rem; max-width: 100%; height: auto; display: block; }
figcaption { color: #333; font-size: 0.9em; margin-top: 0.3em; }
.ran { color: #1a7f37; font-weight: 600; } .skipped { color: #b35900; font-weight: 600; }
.flag { color: #b00020; font-weight: 600; }
.note { color: #555; font-size: 0.9em; }
details { margin: 0.2em 0 0.6em; } summary { cursor: pointer; color: #333; }
details .ids { font-family: monospace; font-size: 0.85em; overflow-wrap: anywhere; }
ul.compact li { margin-bottom: 0.3em; }
details.model-summary > summary { font-weight: 600; }
.alsstats-summary { margin: 0.3em 0 1em 1em; }
.alsstats-summary h4 { font-size: 0.98em; margin: 0.5em 0 0.2em; }
.alsstats-summary h5 { font-size: 0.92em; margin: 0.7em 0 0.2em; color: #444; }
.alsstats-summary dl { display: grid; grid-template-columns: max-content 1fr; gap: 0.05em 1em;
                       font-size: 0.9em; margin: 0.2em 0; }
.alsstats-summary dd { margin: 0; }
.alsstats-summary pre { font-size: 0.8em; white-space: pre-wrap; overflow-wrap: anywhere; }
@media print {
  body { max-width: none; margin: 0; padding: 0; font-size: 10.5pt; }
  nav.toc ol { columns: 2; }
  h2, h3 { break-after: avoid; }
  figure, tr, dl.header { break-inside: avoid; }
  figure img { width: 15cm; max-width: 100%; max-height: 20cm; object-fit: contain; }
  thead { display: table-header-group; }
  details::details-content { content-visibility: visible; display: block; }
  summary { list-style: none; }
  a { color: inherit; text-decoration: none; }
}
@page { size: A4; margin: 14mm 12mm; }
"""

_OPEN_DETAILS_FOR_PRINT = (
    "<script>window.addEventListener('beforeprint',function(){"
    "document.querySelectorAll('details').forEach(function(d){d.open=true;});});</script>"
)

_HEADERS = {
    "group": "Group", "n_subjects": "Subjects", "n_visits": "Visits", "analysis": "Analysis",
    "reason": "Reason", "subject": "Subject", "warning": "Warning", "median": "Median",
    "time": "Time", "n_risk": "At risk", "n_event": "Events", "survival": "Survival",
    "chisq": "Chi-square", "df": "df", "p_value": "p", "n": "n", "observed": "Observed",
    "expected": "Expected", "pearson_r": "Pearson r", "std_error": "SE",
    "statistic": "Statistic", "estimate": "Estimate", "term": "R term", "units": "Units",
    "description": "Effect", "hazard_ratio": "Hazard ratio", "ci_low": "CI low",
    "ci_high": "CI high", "conf_type": "CI transform",
}


def _header(column: object) -> str:
    name = str(column)
    if name in _HEADERS:
        return _HEADERS[name]
    words = name.replace("_", " ").strip()
    return words[:1].upper() + words[1:]


def _pretty_units(units: str) -> str:
    return str(units).replace("mm3", "mm³")


def _cell(value: object) -> tuple[str, bool]:
    """A generic cell as text (never scientific notation) and whether it is a number."""
    from alsstats.formatting import format_cell

    numeric = value is None or (isinstance(value, (int, float, np.integer, np.floating))
                                and not isinstance(value, (bool, np.bool_)))
    return format_cell(value), numeric


def _html_table(header: Sequence[str], rows: Sequence[Sequence[tuple[str, bool]]],
                wide: bool = False, escape: bool = True, css: str = "") -> str:
    def esc(text: str) -> str:
        return html.escape(text) if escape else text

    head = "".join(f"<th class='{'num' if numeric else 'text'}'>{html.escape(name)}</th>"
                   for name, numeric in header)
    body = []
    for row in rows:
        if isinstance(row, tuple) and row and row[0] == "group":
            body.append(f"<tr class='group'><td colspan='{len(header)}'>{row[1]}</td></tr>")
            continue
        cells = "".join(f"<td class='{'num' if numeric else 'text'}'>{esc(text)}</td>"
                        for text, numeric in row)
        body.append(f"<tr>{cells}</tr>")
    classes = " ".join(c for c in ("wide" if wide else "", css) if c)
    cls = f" class='{classes}'" if classes else ""
    return f"<table{cls}><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _is_result_table(frame: pd.DataFrame) -> bool:
    return {"estimate", "ci_low", "ci_high"} <= set(frame.columns)


def _result_table_html(spec: ReportTable) -> str:
    """Estimates as papers print them: term in words beside R's term, estimate (units) at the
    precision its SE supports, the CI in one column, p as ``< 0.001`` or three decimals."""
    import math

    from alsstats.formatting import (
        format_ci,
        format_estimate,
        format_number,
        format_p_value,
        term_label,
    )

    frame = spec.frame
    if frame.index.name is not None or not isinstance(frame.index, pd.RangeIndex):
        frame = frame.reset_index()
    level = f"{spec.ci_level:.0%}" if spec.ci_level is not None else ""
    units_in_header = spec.units and "units" not in frame.columns
    grouped = "analysis" in frame.columns
    header = [("Term", False), ("R term", False)]
    header.append((f"Estimate ({_pretty_units(spec.units)})" if units_in_header else "Estimate",
                   True))
    header.append((f"{level} CI".strip(), True))
    has = {c: c in frame.columns for c in ("std_error", "df", "statistic", "p_value")}
    if has["std_error"]:
        header.append(("SE", True))
    show_df = has["df"] and frame["df"].astype(float).apply(math.isfinite).any()
    if show_df:
        header.append(("df", True))
    if has["statistic"]:
        header.append((spec.statistic, True))
    if has["p_value"]:
        header.append(("p", True))
    hazard = {"hazard_ratio", "hazard_ratio_ci_low", "hazard_ratio_ci_high"} <= set(frame.columns)
    if hazard:
        header += [("Hazard ratio", True), (f"HR {level} CI".replace("  ", " "), True)]
    known = {"analysis", "term", "estimate", "ci_low", "ci_high", "std_error", "df",
             "statistic", "p_value", "units", "description", "index", "hazard_ratio",
             "hazard_ratio_ci_low", "hazard_ratio_ci_high"}
    extra = [c for c in frame.columns if c not in known and frame[c].notna().any()]
    header += [(_header(c), True) for c in extra]
    rows = []
    previous = None
    for record in frame.to_dict("records"):
        if grouped and record["analysis"] != previous:
            previous = record["analysis"]
            rows.append(("group", html.escape(str(previous))))
        se = record.get("std_error")
        se = float(se) if se is not None and not pd.isna(se) else None
        estimate = float(record["estimate"])
        term = str(record.get("term", record.get("index", "")))
        words = record.get("description") or term_label(term)
        cells: list[tuple[str, bool]] = []
        cells.append((html.escape(str(words)), False))
        cells.append((f"<span class='rterm'>{html.escape(term).replace(':', ':<wbr>')}</span>",
                      False))
        text = html.escape(format_estimate(estimate, se))
        if "units" in record and record["units"]:
            text = f"{text} <span class='unit'>{html.escape(_pretty_units(record['units']))}</span>"
        cells.append((text, True))
        cells.append((format_ci(float(record["ci_low"]), float(record["ci_high"]), se,
                                estimate), True))
        if has["std_error"]:
            cells.append((format_estimate(se) if se is not None else "—", True))
        if show_df:
            df = float(record["df"])
            cells.append((format_number(df, 1) if math.isfinite(df) else "—", True))
        if has["statistic"]:
            statistic = record["statistic"]
            cells.append((format_number(float(statistic), 2), True))
        if has["p_value"]:
            cells.append((format_p_value(float(record["p_value"])), True))
        if hazard:
            cells.append((format_number(float(record["hazard_ratio"]), 2), True))
            cells.append((f"{format_number(float(record['hazard_ratio_ci_low']), 2)} to "
                          f"{format_number(float(record['hazard_ratio_ci_high']), 2)}", True))
        cells += [_cell(record[c]) for c in extra]
        rows.append([(c if i < 3 else html.escape(c), numeric)
                     for i, (c, numeric) in enumerate(cells)])
    return _html_table(header, rows, wide=True, escape=False)


def _plain_table_html(frame: pd.DataFrame) -> str:
    from alsstats.formatting import format_p_value

    if frame.index.name is not None or not isinstance(frame.index, pd.RangeIndex):
        frame = frame.reset_index()
    header = []
    columns = list(frame.columns)
    for column in columns:
        numeric = pd.api.types.is_numeric_dtype(frame[column])
        header.append((_header(column), numeric))
    rows = []
    for record in frame.itertuples(index=False):
        cells = []
        for column, value in zip(columns, record, strict=True):
            if str(column) in ("p_value", "p") and not isinstance(value, str):
                cells.append((format_p_value(float(value)), True))
            else:
                cells.append(_cell(value))
        rows.append(cells)
    return _html_table(header, rows, wide=len(columns) > 5)


def _table_html(name: str, table: pd.DataFrame | ReportTable) -> str:
    spec = table if isinstance(table, ReportTable) else ReportTable(table)
    body = (_result_table_html(spec) if _is_result_table(spec.frame) and len(spec.frame)
            else _plain_table_html(spec.frame))
    note = f"<p class='note'>{html.escape(spec.note)}</p>" if spec.note else ""
    return f"<h3>{html.escape(name)}</h3>{body}{note}"


def _figure_html(figure: ReportFigure, number: int) -> str:
    encoded = base64.b64encode(Path(figure.path).read_bytes()).decode()
    return (
        f"<figure id='figure-{number}'><img alt='Figure {number}' "
        f"src=\"data:image/png;base64,{encoded}\">"
        f"<figcaption><b>Figure {number}.</b> {html.escape(figure.caption)}</figcaption></figure>"
    )


def _baseline_html(table: Any) -> str:
    """Table 1 from :class:`alsstats.table_one.BaselineTable`: groups as columns."""
    from alsstats.formatting import format_number

    words = {"subjects": "Subjects, n", "age": "Age at baseline, years, mean (SD)",
             "sex": "Sex, n (%)", "site": "Site, n (%)",
             "alsfrs_r": "ALSFRS-R at baseline, mean (SD)",
             "wmh_mm3": "WMH at baseline, mm³, median (IQR)",
             "follow_up_years": "Follow-up, years, median (IQR)",
             "visits": "Visits per subject, median (IQR)", "deaths": "Deaths, n (%)"}
    digits = {"age": 1, "alsfrs_r": 1, "wmh_mm3": 0, "follow_up_years": 1, "visits": 0}
    frame = table.table
    totals = frame[frame["characteristic"] == "subjects"].set_index("group")["value"]

    def text(row: pd.Series) -> str:
        d = digits.get(row["characteristic"], 0)
        if row["statistic"] == "count":
            value = format_number(row["value"], 0)
        elif row["statistic"] == "mean_sd":
            value = f"{format_number(row['value'], d)} ({format_number(row['sd'], d)})"
        elif row["statistic"] == "median_iqr":
            value = (f"{format_number(row['value'], d)} ({format_number(row['q1'], d)}\u00a0to"
                     f"\u00a0{format_number(row['q3'], d)})")
        else:
            value = f"{format_number(row['value'], 0)} ({format_number(row['percent'], 1)}%)"
        total = totals.get(row["group"])
        if row["statistic"] != "count" and total is not None and row["n"] < total:
            value += f" [n\u00a0=\u00a0{int(row['n'])}]"
        return value

    header = [("Characteristic", False)] + [
        (f"{g} (n = {int(totals.get(g, 0))})", True) for g in table.groups]
    rows = []
    keys = frame[["characteristic", "level"]].drop_duplicates()
    previous = None
    sexes = {"F": "Female", "M": "Male"}
    for characteristic, level in keys.itertuples(index=False):
        label = words.get(characteristic, characteristic)
        if level:
            if previous != characteristic:
                rows.append([(label, False)] + [("", True)] * len(table.groups))
            shown = sexes.get(level, level) if characteristic == "sex" else level
            label = f"\u2003{shown}"
        previous = characteristic
        cells = [(label, False)]
        for group in table.groups:
            match = frame[(frame["characteristic"] == characteristic)
                          & (frame["level"] == level) & (frame["group"] == group)]
            cells.append((text(match.iloc[0]) if len(match) else "—", True))
        rows.append(cells)
    return _html_table(header, rows, wide=len(table.groups) > 3, css="table-one")


def _status_html(analyses: Sequence[AnalysisStatus]) -> str:
    items = []
    for status in analyses:
        css = "ran" if status.status == "ran" else "skipped"
        reason = f": {html.escape(status.reason)}" if status.reason else ""
        items.append(f"<li><span class='{css}'>{html.escape(status.status)}</span> — "
                     f"{html.escape(status.label)}{reason}</li>")
    return f"<ul class='compact'>{''.join(items)}</ul>"


_DETAIL = re.compile(r"\s*\([^()]*\d[^()]*\)")


def _exclusions_html(excluded: pd.DataFrame) -> str:
    """Per analysis: how many subjects and why, the subject ids collapsible per reason."""
    if not len(excluded):
        return "<p>No subject was left out of any analysis.</p>"
    parts = [f"<p>{excluded['subject'].nunique()} subject(s) were left out of at least one "
             "analysis (all rows: <code>tables/excluded_subjects.csv</code>).</p>"]
    for analysis, rows in excluded.groupby("analysis", sort=False):
        parts.append(f"<h3>{html.escape(str(analysis))}: {rows['subject'].nunique()} "
                     "subject(s)</h3><ul class='compact'>")
        kinds = rows["reason"].astype(str).map(
            lambda r: " ".join(_DETAIL.sub("", re.sub(r"^\d+ of \d+ ", "", r)).split()))
        for kind, group in rows.groupby(kinds, sort=False):
            ids = ", ".join(html.escape(str(s)) for s in pd.unique(group["subject"]))
            parts.append(f"<li>{group['subject'].nunique()} — {html.escape(kind)}"
                         f"<details><summary>subject ids</summary>"
                         f"<div class='ids'>{ids}</div></details></li>")
        parts.append("</ul>")
    return "".join(parts)


def _checks_html(checks: Sequence[ModelCheck]) -> str:
    if not checks:
        return "<p>No model check to report.</p>"
    items = []
    for check in checks:
        flag = "" if check.ok else "<span class='flag'>attention:</span> "
        items.append(f"<li>{flag}<b>{html.escape(check.model)}</b> — "
                     f"{html.escape(check.check)}: {html.escape(check.finding)}</li>")
    return f"<ul class='compact'>{''.join(items)}</ul>"


def _slug(text: str, taken: set[str]) -> str:
    base = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "section"
    slug, number = base, 2
    while slug in taken:
        slug, number = f"{base}-{number}", number + 1
    taken.add(slug)
    return slug


def write_report(
    path: str | os.PathLike[str],
    *,
    title: str,
    header: dict[str, str],
    analyses: Sequence[AnalysisStatus],
    baseline: Sequence[tuple[str, Any]],
    sections: Sequence[ReportSection],
    excluded: pd.DataFrame,
    checks: Sequence[ModelCheck],
    methods: Sequence[str],
    notes: Sequence[str] = (),
) -> Path:
    """Write a self-contained HTML page (figures embedded as PNG) atomically.

    ``header`` is shown as given (label: value); ``analyses`` lists what ran and what did
    not; ``baseline`` holds (title, :class:`~alsstats.table_one.BaselineTable`) pairs;
    ``excluded`` has columns ``subject, reason, analysis``. The page renders only: every
    number comes in computed.
    """
    taken: set[str] = set()
    blocks: list[tuple[str, str, str]] = []  # (anchor, title, body)
    blocks.append((_slug("analyses", taken), "What ran, what did not", _status_html(analyses)))
    if baseline:
        body = "".join(f"<h3>{html.escape(name)}</h3>{_baseline_html(table)}"
                       for name, table in baseline)
        blocks.append((_slug("table-1", taken), "Table 1: baseline characteristics", body))
    figure_number = 0
    for section in sections:
        parts = []
        if section.text:
            parts.append(f"<p>{html.escape(section.text)}</p>")
        for figure in section.figures:
            figure_number += 1
            parts.append(_figure_html(figure, figure_number))
        parts.extend(_table_html(name, table) for name, table in section.tables.items())
        parts.extend(
            f"<details class='model-summary'><summary>{html.escape(label)}</summary>"
            f"{summary.as_html()}</details>" for label, summary in section.details)
        blocks.append((_slug(section.anchor or section.title, taken), section.title,
                       "".join(parts)))
    blocks.append((_slug("model-checks", taken), "Model checks", _checks_html(checks)))
    blocks.append((_slug("excluded", taken), "Excluded subjects", _exclusions_html(excluded)))
    blocks.append((_slug("methods", taken), "Methods",
                   "<ul class='compact'>" + "".join(f"<li>{html.escape(m)}</li>"
                                                   for m in methods) + "</ul>"))
    if notes:
        blocks.append((_slug("notes", taken), "Warnings from the run, verbatim",
                       "<ul class='compact note'>" + "".join(
                           f"<li>{html.escape(n)}</li>" for n in notes) + "</ul>"))
    head = "".join(f"<dt>{html.escape(k)}</dt><dd>{html.escape(v)}</dd>"
                   for k, v in header.items())
    nav = "".join(f"<li><a href='#{a}'>{html.escape(t)}</a></li>" for a, t, _ in blocks)
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style>{_OPEN_DETAILS_FOR_PRINT}"
        "</head><body>",
        f"<h1>{html.escape(title)}</h1><dl class='header'>{head}</dl>",
        f"<nav class='toc'><b>Contents</b><ol>{nav}</ol></nav>",
    ]
    parts += [f"<section id='{a}'><h2>{html.escape(t)}</h2>{body}</section>"
              for a, t, body in blocks]
    parts.append("</body></html>")
    return atomic_write_bytes(path, "\n".join(parts).encode())
