"""Table 1: baseline characteristics of a cohort, by group (computation only; the report
formats it)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from alsstats._deprecation import formerly_positional, renamed_arguments
from alsstats.summary import Summary, lines, render_summary, standard_frame, table

__all__ = ["BaselineTable", "baseline_characteristics"]

TABLE_COLUMNS = ["characteristic", "level", "group", "statistic", "n", "value", "sd", "q1",
                 "q3", "percent"]

ALL = "All"


@dataclass(frozen=True)
class BaselineTable:
    """Baseline characteristics by group.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per characteristic, level and group, columns

        - ``characteristic``: what is summarised (``subjects``, ``age``, ``sex``, ``site``,
          ``alsfrs_r``, ``wmh_mm3``, ``follow_up_years``, ``visits``, ``deaths``);
        - ``level``: the category for ``sex``/``site`` (empty otherwise);
        - ``group``: the level of ``by``, or ``"All"``;
        - ``statistic``: ``count``, ``mean_sd``, ``median_iqr`` or ``count_percent``;
        - ``n``: subjects with a value (the denominator);
        - ``value``: the count, mean or median; ``sd``; ``q1``, ``q3`` (25th/75th
          percentiles, pandas' linear interpolation); ``percent`` (of ``n``).
    by : str
        The grouping column.
    groups : list of str
        Its levels, in table order (``"All"`` last).
    method : dict
        How baseline was defined and how summaries were computed.
    n_obs : int or None
        Visits (rows) of the visit table summarised.
    n_subjects : int
        Subjects summarised (the ``"All"`` count).
    ci_level : None
        No interval is computed.
    """

    table: pd.DataFrame
    by: str
    groups: list[str]
    method: dict[str, Any] = field(default_factory=dict)
    n_obs: int | None = None
    ci_level: float | None = None

    @property
    def n_subjects(self) -> int:
        """Subjects summarised (the ``"All"`` column's count)."""
        rows = self.table[(self.table["characteristic"] == "subjects")
                          & (self.table["group"] == ALL)]
        return int(rows["value"].iloc[0])

    def to_frame(self) -> pd.DataFrame:
        """The table in the result protocol's shape.

        Returns
        -------
        pandas.DataFrame
            One row per characteristic, level and group: ``term`` (the characteristic,
            ``"sex: F"`` style for a level), ``estimate`` (the count, mean or median);
            ``std_error``, ``statistic``, ``df``, ``p_value``, ``ci_low``, ``ci_high`` NaN (a
            description, nothing is tested); then ``characteristic, level, group, summary``
            (``count``, ``mean_sd``, ``median_iqr`` or ``count_percent``), ``n, sd, q1, q3,
            percent`` as in :attr:`table`.
        """
        t = self.table
        term = [f"{c}: {lv}" if lv else c
                for c, lv in zip(t["characteristic"], t["level"], strict=True)]
        frame = t.rename(columns={"value": "estimate", "statistic": "summary"})
        return standard_frame(frame, term=term)

    def summary(self) -> Summary:
        """Table 1 as text: one row per characteristic, one column per group."""
        t = self.table.copy()
        t["characteristic"] = [f"{c}: {lv}" if lv else c
                               for c, lv in zip(t["characteristic"], t["level"], strict=True)]
        wide = t.pivot_table(index="characteristic", columns="group", values="value",
                             aggfunc="first", sort=False)
        wide = wide.reindex(columns=[g for g in self.groups if g in wide.columns])
        wide.columns = [str(c) for c in wide.columns]
        return render_summary(f"Baseline characteristics by {self.by}", [
            lines(None, {**self.method, "n_subjects": self.n_subjects, "n_visits": self.n_obs}),
            table("Count, mean or median", wide)])


def _baseline_rows(visits: pd.DataFrame) -> pd.DataFrame:
    ordered = visits.sort_values(["subject", "years"], kind="mergesort")
    first = ordered.groupby("subject", sort=False, observed=True).head(1).set_index("subject")
    span = ordered.groupby("subject", observed=True)["years"].agg(["min", "max", "size"])
    first["follow_up_years"] = (span["max"] - span["min"]).reindex(first.index)
    first["visits"] = span["size"].reindex(first.index).astype(float)
    return first


def _add_survival_group(visits: pd.DataFrame, cutoff_months: float) -> pd.DataFrame:
    from alsstats.survival.groups import survival_groups

    patients = visits[visits["group"] == "ALS"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # unclassified patients get their own column here
        groups = survival_groups(patients, cutoff_months=cutoff_months, diagnosis=None).groups
    names = {"short": f"short: event ≤ {cutoff_months:g} months",
             "long": f"long: followed > {cutoff_months:g} months"}
    unclassified = f"unclassified: censored ≤ {cutoff_months:g} months"
    labels = pd.Series([names.get(str(g), unclassified) if pd.notna(g) else unclassified
                        for g in groups], index=groups.index)
    order = [names["short"], names["long"], unclassified]
    labels = pd.Categorical(labels, categories=order)
    labels = pd.Series(labels, index=groups.index)
    return patients.assign(survival_group=patients["subject"].map(labels))


@formerly_positional("by")
@renamed_arguments(visits="data")
def baseline_characteristics(data: pd.DataFrame, *, by: str = "group",
                             cutoff_months: float = 24.0) -> BaselineTable:
    """Table 1 of a visit table: baseline characteristics per level of ``by`` and overall.

    Parameters
    ----------
    data : pandas.DataFrame
        A validated visit table (:func:`alsstats.validate_visits`; was ``visits``); not
        modified.
    by : str
        Grouping column: ``"group"``, ``"phenotype"``, any subject-level column, or
        ``"survival_group"``, which (when the table has no such column) classifies ALS
        patients at ``cutoff_months`` as :func:`alsstats.survival_groups` does, keeping the
        unclassified ones as their own group.
    cutoff_months : float
        Cut-off for ``by="survival_group"``.

    Returns
    -------
    BaselineTable
        See its attributes for the columns.

    Notes
    -----
    Baseline is each subject's first visit (smallest ``years``). Age, sex, site and deaths
    are subject-level; ALSFRS-R and WMH are the baseline visit's values (subjects missing
    them are left out of that row's denominator ``n``, never silently); follow-up is last
    minus first visit time. Deaths count ``event == 1`` among subjects with an event value.
    Subjects whose ``by`` value is missing are counted in ``"All"`` only.

    Examples
    --------
    >>> import alsstats as als
    >>> t = baseline_characteristics(als.load_example_cohort())
    >>> t.groups
    ['control', 'ALS', 'All']
    >>> int(t.table.query("characteristic == 'subjects' and group == 'All'")["value"].iloc[0])
    439
    """
    if by == "survival_group" and by not in data.columns:
        data = _add_survival_group(data, cutoff_months)
    if by not in data.columns:
        raise KeyError(f"baseline_characteristics: no column {by!r} in the visit table")
    base = _baseline_rows(data)
    column = base[by]
    if isinstance(column.dtype, pd.CategoricalDtype):
        levels = [str(v) for v in column.cat.categories if (column == v).any()]
    else:
        present = column.dropna().astype(str).unique().tolist()
        levels = (["control", "ALS"] if set(present) == {"control", "ALS"} else sorted(present, key=str.casefold))
    rows: list[dict[str, Any]] = []
    for level in [*levels, ALL]:
        part = base if level == ALL else base[column.astype(str) == level]
        rows.extend(_summaries(part, level))
    table = pd.DataFrame(rows).reindex(columns=TABLE_COLUMNS)
    method = {
        "baseline": "each subject's first visit (smallest years)",
        "continuous": "mean (SD, n - 1) for age and ALSFRS-R; median (25th-75th percentile) "
                      "for WMH, follow-up and visits",
        "by": by,
    }
    if by == "survival_group":
        method["cutoff_months"] = cutoff_months
    return BaselineTable(table=table, by=by, groups=[*levels, ALL], method=method,
                         n_obs=len(data))


def _summaries(part: pd.DataFrame, group: str) -> list[dict[str, Any]]:
    def row(characteristic: str, statistic: str, n: int, value: float, level: str = "",
            **more: float) -> dict[str, Any]:
        return {"characteristic": characteristic, "level": level, "group": group,
                "statistic": statistic, "n": int(n), "value": value, **more}

    def mean_sd(name: str) -> dict[str, Any]:
        values = part[name].dropna().astype(float)
        return row(name, "mean_sd", len(values), values.mean() if len(values) else np.nan,
                   sd=values.std() if len(values) > 1 else np.nan)

    def median_iqr(name: str) -> dict[str, Any]:
        values = part[name].dropna().astype(float)
        if not len(values):
            return row(name, "median_iqr", 0, np.nan, q1=np.nan, q3=np.nan)
        return row(name, "median_iqr", len(values), values.median(),
                   q1=values.quantile(0.25), q3=values.quantile(0.75))

    def counts(name: str) -> list[dict[str, Any]]:
        values = part[name].dropna().astype(str)
        order = sorted(values.unique())
        return [row(name, "count_percent", len(values), float((values == level).sum()),
                    level=level, percent=100.0 * (values == level).mean()) for level in order]

    out = [row("subjects", "count", len(part), float(len(part)))]
    out.append(mean_sd("age"))
    out += counts("sex")
    if "site" in part.columns and part["site"].notna().any():
        out += counts("site")
    if "alsfrs_r" in part.columns and part["alsfrs_r"].notna().any():
        out.append(mean_sd("alsfrs_r"))
    if "wmh_mm3" in part.columns and part["wmh_mm3"].notna().any():
        out.append(median_iqr("wmh_mm3"))
    out.append(median_iqr("follow_up_years"))
    out.append(median_iqr("visits"))
    if "event" in part.columns and part["event"].notna().any():
        events = part["event"].dropna().astype(float)
        out.append(row("deaths", "count_percent", len(events), float((events == 1).sum()),
                       percent=100.0 * (events == 1).mean()))
    return out
