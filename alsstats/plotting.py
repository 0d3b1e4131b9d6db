"""The papers' figures: trajectories, associations, Kaplan-Meier curves, forest plots.

Every function takes tidy DataFrames and an optional ``ax=``, draws, and returns the Axes
(a new figure is made when ``ax`` is None). Nothing here computes a statistic: model fits,
confidence bands and survival curves arrive as tables made elsewhere (:mod:`alsstats.analyses`,
:mod:`alsstats.survival`); plotting only sorts, selects and counts rows.

The inputs are plain DataFrames, so any source will do:

- the visit table (long; ``subject``, ``years``, ``group``, biomarker columns; ``DESIGN.md``);
- a fit band: columns ``<x>`` (e.g. ``years``), ``estimate``, ``ci_low``, ``ci_high`` and
  optionally a grouping column (``group``, ``survival_group``, ...);
- a Kaplan-Meier table: ``time``, ``n_risk``, ``n_event``, ``survival``, ``ci_low``, ``ci_high``,
  optionally ``n_censor`` and a grouping column (one row per distinct time, as R ``survfit``);
- a coefficient table: index ``term``; ``estimate``, ``ci_low``, ``ci_high``, optionally
  ``p_value`` and ``units``.

Colours come from the Okabe-Ito palette (:data:`OKABE_ITO`), which stays distinguishable under
the common colour-vision deficiencies; :data:`PALETTE` fixes one colour per known group so a
group keeps its colour from figure to figure. Axis labels carry units (:data:`AXIS_LABELS`,
:func:`axis_label`).

Legends sit just above the axes so they never cover data; a figure title therefore belongs in
``fig.suptitle(...)`` (an ``ax.set_title`` would overlap the legend), or pass
``legend_kw={"loc": "upper left"}`` to put the legend back inside the axes.

Every drawn artist carries a ``gid`` (``"subjects:ALS"``, ``"fit:ALS"``, ``"ci:ALS"``,
``"km:short"``, ``"at_risk:short"``, ``"whiskers"``, ...) so it can be found and restyled.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from alsstats.errors import DataValidationError

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = [
    "AXIS_LABELS",
    "GROUP_LABELS",
    "OKABE_ITO",
    "PALETTE",
    "axis_label",
    "group_colours",
    "plot_association",
    "plot_dynamic_survival",
    "plot_forest",
    "plot_kaplan_meier",
    "plot_spaghetti",
    "plot_trajectories",
]

OKABE_ITO: dict[str, str] = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "bluish_green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7",
}
"""The eight colours of Okabe & Ito (2008), *Color Universal Design*, by name."""

PALETTE: dict[str, str] = {
    "ALS": OKABE_ITO["vermillion"],
    "control": OKABE_ITO["blue"],
    "short": OKABE_ITO["orange"],
    "long": OKABE_ITO["bluish_green"],
    "classic": OKABE_ITO["reddish_purple"],
    "PLS": OKABE_ITO["sky_blue"],
    "flail_arm": OKABE_ITO["black"],
}
"""Fixed colour of each known group level (matched exactly, then case-insensitively).

Levels not listed here take the Okabe-Ito colours no listed level of the same figure uses.
"""

GROUP_LABELS: dict[str, str] = {
    "ALS": "ALS",
    "control": "Controls",
    "short": "Short survivors",
    "long": "Long survivors",
    "classic": "Classic ALS",
    "PLS": "PLS",
    "flail_arm": "Flail arm",
}
"""Legend text of the known group levels; other levels are shown as they are."""

AXIS_LABELS: dict[str, str] = {
    "years": "Time since baseline MRI (years)",
    "wmh_mm3": "WMH volume (mm³)",
    "alsfrs_r": "ALSFRS-R total (points)",
    "survival_months": "Months since baseline MRI",
    "age": "Age at baseline (years)",
    "umn_score": "UMN burden score (points)",
    "ecas_executive": "ECAS executive score (points)",
    "symptom_onset_months": "Time from symptom onset to baseline MRI (months)",
    "delta_fs": "ΔFS, ALSFRS-R decline rate (points/month)",
    "flair_cst": "Normalised FLAIR intensity, CST (ratio to reference)",
    "flair_cc": "Normalised FLAIR intensity, corpus callosum (ratio to reference)",
}
"""Axis label, with units, of the known visit-table columns.

Further patterns are handled by :func:`axis_label`: any other ``flair_<roi>`` column and the
ALSFRS-R items ``alsfrs_1`` .. ``alsfrs_12``, ``alsfrs_5a``, ``alsfrs_5b``.
"""

_FLAIR_LABEL = "Normalised FLAIR intensity{roi} (ratio to reference)"
_ITEM_PATTERN = re.compile(r"alsfrs_(\d{1,2}[ab]?)")
# Colours for unknown levels, in the order they are handed out; yellow last (weak on white).
_SPARE_COLOURS = [OKABE_ITO[name] for name in (
    "sky_blue", "bluish_green", "orange", "reddish_purple", "blue", "vermillion", "black", "yellow",
)]  # fmt: skip
_UNGROUPED_LINES = "#555555"
_INTERCEPTS = ("Intercept", "(Intercept)")
_UNGROUPED_FIT = OKABE_ITO["black"]
_DEFAULT_FIGSIZE = (5.5, 4.0)
_RASTER_ABOVE = 2000  # subject lines (or points) per group drawn as a raster in vector output


def axis_label(column: str, labels: Mapping[str, str] | None = None) -> str:
    """The axis label, with units, of a column; the column name when it is not known.

    Parameters
    ----------
    column : str
        A column of the visit table, e.g. ``"wmh_mm3"`` or ``"flair_cst"``.
    labels : mapping, optional
        Labels that take precedence over :data:`AXIS_LABELS`.

    Returns
    -------
    str
        E.g. ``"WMH volume (mm³)"``; unknown columns come back unchanged.

    Examples
    --------
    >>> axis_label("wmh_mm3")
    'WMH volume (mm³)'
    >>> axis_label("flair_cst")
    'Normalised FLAIR intensity, CST (ratio to reference)'
    >>> axis_label("alsfrs_5a")
    'ALSFRS-R item 5a (points)'
    >>> axis_label("my_score")
    'my_score'
    """
    if labels is not None and column in labels:
        return labels[column]
    if column in AXIS_LABELS:
        return AXIS_LABELS[column]
    if column.startswith("flair_"):
        roi = column.removeprefix("flair_")
        return _FLAIR_LABEL.format(roi=f", {roi}" if roi else "")
    item = _ITEM_PATTERN.fullmatch(column)
    if item:
        return f"ALSFRS-R item {item.group(1)} (points)"
    return column


def group_colours(levels: Sequence[Any], palette: Mapping[str, str] | None = None) -> dict:
    """The colour of each group level: fixed for known levels, spare Okabe-Ito colours otherwise.

    Parameters
    ----------
    levels : sequence
        The group levels of one figure, in legend order.
    palette : mapping, optional
        Colours that take precedence over :data:`PALETTE` (level -> any matplotlib colour).

    Returns
    -------
    dict
        Level -> colour.

    Examples
    --------
    >>> group_colours(["control", "ALS"])
    {'control': '#0072B2', 'ALS': '#D55E00'}
    >>> group_colours(["Control", "site_A"])
    {'Control': '#0072B2', 'site_A': '#56B4E9'}
    """
    merged = {**PALETTE, **(palette or {})}
    folded = {str(key).casefold(): colour for key, colour in merged.items()}

    def known(level: Any) -> str | None:
        return merged.get(str(level), folded.get(str(level).casefold()))

    used = {known(level) for level in levels} - {None}
    spare = [colour for colour in _SPARE_COLOURS if colour not in used] or _SPARE_COLOURS
    out: dict = {}
    handed_out = 0
    for level in levels:
        colour = known(level)
        if colour is None:
            colour = spare[handed_out % len(spare)]
            handed_out += 1
        out[level] = colour
    return out


# --------------------------------------------------------------------------------------------
# checks and small helpers (no statistics)


def _require_frame(frame: Any, name: str) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"{name} must be a pandas DataFrame, got {type(frame).__name__}")


def _require_columns(frame: pd.DataFrame, columns: Sequence[str | None], name: str) -> None:
    """Raise one error naming every missing column of ``frame``."""
    _require_frame(frame, name)
    missing = [c for c in dict.fromkeys(columns) if c is not None and c not in frame.columns]
    if missing:
        present = ", ".join(map(str, frame.columns))
        raise DataValidationError(
            [f"column {c!r} is missing from {name} (its columns: {present})" for c in missing]
        )


def _require_numeric(frame: pd.DataFrame, columns: Sequence[str], name: str) -> None:
    bad = [
        f"column {c!r} of {name} must be numeric, found dtype {frame[c].dtype}"
        for c in dict.fromkeys(columns)
        if not pd.api.types.is_numeric_dtype(frame[c]) or pd.api.types.is_bool_dtype(frame[c])
    ]
    if bad:
        raise DataValidationError(bad)


def _require_no_missing(frame: pd.DataFrame, column: str, name: str) -> None:
    missing = frame[column].isna().to_numpy()
    if missing.any():
        where = ""
        if "subject" in frame.columns:
            subjects = pd.unique(frame.loc[missing, "subject"])
            shown = ", ".join(map(str, subjects[:5])) + (", ..." if len(subjects) > 5 else "")
            where = f" (subjects {shown})"
        raise DataValidationError(
            f"column {column!r} of {name} is missing in {int(missing.sum())} row(s){where}; "
            "drop or label those rows before plotting"
        )


def _levels(*columns: pd.Series) -> list:
    """Levels in Categorical order (else sorted), first series first, only those present."""
    out: list = []
    for series in columns:
        present = pd.unique(series.dropna())
        if isinstance(series.dtype, pd.CategoricalDtype):
            chosen = [c for c in series.cat.categories if c in set(present)]
        else:
            known = list(PALETTE)
            chosen = sorted(
                present, key=lambda v: (known.index(v) if v in known else len(known), str(v))
            )
        out += [level for level in chosen if level not in out]
    return out


def _new_axes(ax: Axes | None, figsize: tuple[float, float] | None) -> Axes:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=figsize or _DEFAULT_FIGSIZE, layout="constrained")
    return ax


def _display(level: Any, group_labels: Mapping[str, str] | None) -> str:
    labels = {**GROUP_LABELS, **(group_labels or {})}
    return labels.get(str(level), str(level))


def _legend(ax: Axes, handles: list, labels: list[str], legend_kw: Mapping | None) -> None:
    """A frameless legend above the axes, where it cannot hide data, in as many columns as fit."""
    if not handles:
        return
    from matplotlib.legend_handler import HandlerTuple

    options: dict[str, Any] = {
        "loc": "lower left",
        "bbox_to_anchor": (0.0, 1.01),
        "frameon": False,
        "borderaxespad": 0.0,
        "handlelength": 2.0,
        "columnspacing": 1.5,
        "handler_map": {tuple: HandlerTuple(ndivide=1)},
    }
    if legend_kw and "loc" in legend_kw and "bbox_to_anchor" not in legend_kw:
        del options["bbox_to_anchor"]  # a caller's own position is inside the axes
    options.update(legend_kw or {})
    if "ncol" in options or "ncols" in options:
        ax.legend(handles, labels, **options)
        return
    try:
        renderer = ax.figure.canvas.get_renderer()
    except AttributeError:  # a canvas that cannot measure text: one row per entry
        ax.legend(handles, labels, ncol=1, **options)
        return
    room = 1.1 * ax.get_window_extent(renderer).width
    for ncol in range(len(handles), 0, -1):
        legend = ax.legend(handles, labels, ncol=ncol, **options)
        if legend.get_window_extent(renderer).width <= room:
            break


def _n_subjects(frame: pd.DataFrame, group: str | None) -> dict:
    if "subject" not in frame.columns:
        return {}
    if group is None:
        return {None: frame["subject"].nunique()}
    return frame.groupby(group, observed=True, sort=False)["subject"].nunique().to_dict()


def _legend_text(level: Any, counts: dict, group_labels: Mapping[str, str] | None) -> str:
    text = _display(level, group_labels) if level is not None else "All subjects"
    n = counts.get(level)
    return text if n is None else f"{text} (n = {n:,})"


def _rows_of(frame: pd.DataFrame, group: str | None, level: Any) -> pd.DataFrame:
    return frame if group is None else frame.loc[(frame[group] == level).to_numpy()]


# --------------------------------------------------------------------------------------------
# drawing blocks


def _draw_subjects(
    ax: Axes,
    visits: pd.DataFrame,
    x: str,
    y: str,
    group: str | None,
    colours: dict,
    *,
    alpha: float,
    linewidth: float,
    show_points: bool,
) -> None:
    """One LineCollection per group, one polyline per subject (visits in time order).

    Subjects with a single visit are drawn as a point, since a one-point line is invisible.
    """
    from matplotlib.collections import LineCollection

    drawn = visits.loc[np.isfinite(visits[x].to_numpy(float)) & np.isfinite(
        visits[y].to_numpy(float))]  # fmt: skip
    for level, colour in colours.items():
        rows = _rows_of(drawn, group, level).sort_values(["subject", x], kind="mergesort")
        points = np.column_stack([rows[x].to_numpy(float), rows[y].to_numpy(float)])
        codes = pd.factorize(rows["subject"])[0]
        starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]]) if len(codes) else codes
        lengths = np.diff(np.r_[starts, len(codes)])
        segments = np.split(points, starts[1:]) if len(points) else []
        lines = LineCollection(
            segments, colors=colour, alpha=alpha, linewidths=linewidth, zorder=1,
            capstyle="round", joinstyle="round",
        )  # fmt: skip
        lines.set_gid(f"subjects:{level}")
        # Thousands of vector paths make PDFs of many megabytes; raster them, keep the rest vector.
        lines.set_rasterized(len(segments) > _RASTER_ABOVE)
        ax.add_collection(lines, autolim=True)
        if show_points:
            shown = points
        else:
            shown = points[starts[lengths == 1]] if len(points) else points
        if len(shown):
            dots = ax.scatter(
                shown[:, 0], shown[:, 1], s=9 if show_points else 6, color=colour,
                alpha=min(1.0, alpha * 1.5), linewidths=0, zorder=1,
            )  # fmt: skip
            dots.set_gid(f"subject_points:{level}")
            dots.set_rasterized(len(shown) > _RASTER_ABOVE)
    ax.autoscale_view()


def _draw_fit(
    ax: Axes,
    fit: pd.DataFrame,
    x: str,
    group: str | None,
    colours: dict,
    *,
    band_alpha: float,
) -> dict:
    """Fit line and CI band per group, from a tidy fit table; returns level -> legend handle."""
    import matplotlib.patheffects as pe

    handles = {}
    for level, colour in colours.items():
        rows = _rows_of(fit, group, level)
        if rows.empty:
            continue
        if rows[x].duplicated().any():
            raise DataValidationError(
                f"fit has repeated values of {x!r}"
                + (f" within {group}={level!r}" if group is not None else "; pass group=")
            )
        rows = rows.sort_values(x, kind="mergesort")
        xs = rows[x].to_numpy(float)
        band = ax.fill_between(
            xs, rows["ci_low"].to_numpy(float), rows["ci_high"].to_numpy(float),
            color=colour, alpha=band_alpha, linewidth=0, zorder=2,
        )  # fmt: skip
        band.set_gid(f"ci:{level}")
        (line,) = ax.plot(
            xs, rows["estimate"].to_numpy(float), color=colour, linewidth=2.2, zorder=3,
            path_effects=[pe.Stroke(linewidth=4.0, foreground="white"), pe.Normal()],
        )  # fmt: skip
        line.set_gid(f"fit:{level}")
        handles[level] = (band, line)
    return handles


def _check_fit(fit: pd.DataFrame, x: str, group: str | None) -> None:
    _require_columns(fit, [x, "estimate", "ci_low", "ci_high", group], "fit")
    _require_numeric(fit, [x, "estimate", "ci_low", "ci_high"], "fit")
    if group is not None:
        _require_no_missing(fit, group, "fit")


def _line_handle(colour: str) -> Any:
    from matplotlib.lines import Line2D

    return Line2D([], [], color=colour, linewidth=1.5)


# --------------------------------------------------------------------------------------------
# figures


def plot_trajectories(
    visits: pd.DataFrame,
    y: str = "wmh_mm3",
    group: str | None = "group",
    fit: pd.DataFrame | None = None,
    x: str = "years",
    ax: Axes | None = None,
    *,
    ylabel: str | None = None,
    xlabel: str | None = None,
    palette: Mapping[str, str] | None = None,
    group_labels: Mapping[str, str] | None = None,
    alpha: float = 0.25,
    linewidth: float = 0.7,
    band_alpha: float = 0.25,
    show_points: bool = False,
    legend: bool = True,
    legend_kw: Mapping[str, Any] | None = None,
    figsize: tuple[float, float] | None = None,
) -> Axes:
    """Per-subject trajectories with the model fit and its confidence band (figures 2A, 2B).

    Each subject is a thin, faint line in its group's colour; each group's population fit is
    a thick line over a shaded confidence band. Figure 2A: ``group="group"`` (ALS vs
    controls); figure 2B: ``group="survival_group"`` (``"short"`` vs ``"long"``).

    Parameters
    ----------
    visits : pandas.DataFrame
        Visit table, one row per subject and visit; needs ``subject``, ``x``, ``y`` and
        ``group`` (when given). Not modified.
    y : str
        Biomarker column (default ``"wmh_mm3"``).
    group : str or None
        Grouping column (``"group"``, ``"survival_group"``, ``"phenotype"``, ...); None draws
        every subject in grey and one fit in black.
    fit : pandas.DataFrame, optional
        Model-based trajectories: columns ``x``, ``estimate``, ``ci_low``, ``ci_high`` and
        ``group`` (when given), one row per grid point and group, e.g.
        ``AnalysisResult.fit``. Groups of ``fit`` absent from ``visits`` are drawn too.
    x : str
        Time column (default ``"years"``), in both ``visits`` and ``fit``.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure (5.5 x 4 in, constrained layout) is made when None.
    ylabel, xlabel : str, optional
        Axis labels; default to :func:`axis_label` of ``y`` and ``x`` (with units).
    palette : mapping, optional
        Colours overriding :data:`PALETTE` per group level.
    group_labels : mapping, optional
        Legend text overriding :data:`GROUP_LABELS` per group level.
    alpha, linewidth : float
        Opacity and width of the subject lines.
    band_alpha : float
        Opacity of the confidence bands.
    show_points : bool
        Mark every visit with a dot (single-visit subjects always get one).
    legend : bool
        Draw a legend (one row above the axes, so it never covers data) with the number of
        subjects drawn per group.
    legend_kw : mapping, optional
        Options passed on to :meth:`matplotlib.axes.Axes.legend`, overriding the defaults.
    figsize : tuple of float, optional
        Figure size in inches when a new figure is made.

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn on. Artists: a ``LineCollection`` per group (gid ``subjects:<level>``,
        one path per subject), a fill ``PolyCollection`` (``ci:<level>``) and a ``Line2D``
        (``fit:<level>``) per group of ``fit``.

    Raises
    ------
    DataValidationError
        A needed column is missing (the message names it), a plotted column is not numeric,
        ``group`` has missing values, or ``fit`` repeats an ``x`` value within a group.

    Notes
    -----
    Rows whose ``x`` or ``y`` is missing are not drawn (a subject's line joins its remaining
    visits); the legend's *n* counts subjects with at least one drawn visit. The band is drawn
    as given: no smoothing, no recomputation. Each subject is its own path, so overlapping
    faint lines darken where subjects crowd; above 2,000 subjects per group the subject lines
    are rasterised in PDF/SVG output (fit lines, bands, text stay vector).

    Examples
    --------
    >>> import pandas as pd
    >>> visits = pd.DataFrame({
    ...     "subject": ["a", "a", "b", "b", "c", "c"],
    ...     "years": [0.0, 1.0, 0.0, 2.0, 0.0, 1.5],
    ...     "group": ["ALS", "ALS", "ALS", "ALS", "control", "control"],
    ...     "wmh_mm3": [3000.0, 3900.0, 2500.0, 4400.0, 2800.0, 2900.0]})
    >>> fit = pd.DataFrame({
    ...     "years": [0.0, 2.0, 0.0, 2.0], "group": ["ALS", "ALS", "control", "control"],
    ...     "estimate": [2700.0, 4500.0, 2800.0, 3000.0],
    ...     "ci_low": [2400.0, 3900.0, 2500.0, 2600.0],
    ...     "ci_high": [3000.0, 5100.0, 3100.0, 3400.0]})
    >>> ax = plot_trajectories(visits, fit=fit)
    >>> ax.get_ylabel(), ax.get_xlabel()
    ('WMH volume (mm³)', 'Time since baseline MRI (years)')
    """
    _require_columns(visits, ["subject", x, y, group], "visits")
    _require_numeric(visits, [x, y], "visits")
    if group is not None:
        _require_no_missing(visits, group, "visits")
    if fit is not None:
        _check_fit(fit, x, group)
    ax = _new_axes(ax, figsize)

    if group is None:
        levels: list = [None]
    else:
        levels = _levels(visits[group], *([fit[group]] if fit is not None else []))
    colours = (
        {None: _UNGROUPED_LINES} if group is None else group_colours(levels, palette)
    )
    _draw_subjects(
        ax, visits, x, y, group, colours,
        alpha=alpha, linewidth=linewidth, show_points=show_points,
    )  # fmt: skip
    fit_handles: dict = {}
    if fit is not None:
        fit_colours = {None: _UNGROUPED_FIT} if group is None else colours
        fit_handles = _draw_fit(ax, fit, x, group, fit_colours, band_alpha=band_alpha)

    ax.set_xlabel(xlabel if xlabel is not None else axis_label(x))
    ax.set_ylabel(ylabel if ylabel is not None else axis_label(y))
    if legend and group is not None:
        drawn = visits.loc[visits[x].notna().to_numpy() & visits[y].notna().to_numpy()]
        counts = _n_subjects(drawn, group)
        handles = [fit_handles.get(level, _line_handle(colours[level])) for level in levels]
        labels = [_legend_text(level, counts, group_labels) for level in levels]
        _legend(ax, handles, labels, legend_kw)
    return ax


def plot_spaghetti(
    visits: pd.DataFrame,
    y: str,
    group: str | None = None,
    x: str = "years",
    ax: Axes | None = None,
    *,
    ylabel: str | None = None,
    xlabel: str | None = None,
    palette: Mapping[str, str] | None = None,
    group_labels: Mapping[str, str] | None = None,
    alpha: float = 0.5,
    linewidth: float = 0.8,
    legend: bool = True,
    legend_kw: Mapping[str, Any] | None = None,
    figsize: tuple[float, float] | None = None,
) -> Axes:
    """Spaghetti plot of any biomarker: one line per subject, a dot per visit.

    Parameters
    ----------
    visits : pandas.DataFrame
        Visit table; needs ``subject``, ``x``, ``y`` and ``group`` (when given). Not modified.
    y : str
        Biomarker column, e.g. ``"flair_cst"``, ``"alsfrs_r"``, ``"wmh_mm3"``.
    group : str, optional
        Colour subjects by this column (``"group"``, ``"phenotype"``, ...); grey when None.
    x : str
        Time column (default ``"years"``).
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure is made when None.
    ylabel, xlabel : str, optional
        Axis labels; default to :func:`axis_label` of ``y`` and ``x`` (with units).
    palette, group_labels : mapping, optional
        Colours and legend text overriding :data:`PALETTE` and :data:`GROUP_LABELS`.
    alpha, linewidth : float
        Opacity and width of the lines.
    legend : bool
        Legend above the axes with the number of subjects per group (when ``group`` is given).
    legend_kw : mapping, optional
        Options passed on to :meth:`matplotlib.axes.Axes.legend`.
    figsize : tuple of float, optional
        Figure size in inches when a new figure is made.

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn on: a ``LineCollection`` per group (gid ``subjects:<level>``, one path
        per subject) and a dot ``PathCollection`` per group (``subject_points:<level>``).

    Raises
    ------
    DataValidationError
        A needed column is missing (named), not numeric, or ``group`` has missing values.

    Notes
    -----
    Rows whose ``x`` or ``y`` is missing are not drawn; a subject's line joins its remaining
    visits.

    Examples
    --------
    >>> import pandas as pd
    >>> visits = pd.DataFrame({
    ...     "subject": ["a", "a", "b", "b", "b"], "years": [0.0, 1.0, 0.0, 0.5, 1.2],
    ...     "phenotype": ["classic", "classic", "PLS", "PLS", "PLS"],
    ...     "flair_cst": [1.10, 1.14, 1.05, 1.07, 1.12]})
    >>> ax = plot_spaghetti(visits, "flair_cst", group="phenotype")
    >>> ax.get_ylabel()
    'Normalised FLAIR intensity, CST (ratio to reference)'
    """
    return plot_trajectories(
        visits, y=y, group=group, fit=None, x=x, ax=ax, ylabel=ylabel, xlabel=xlabel,
        palette=palette, group_labels=group_labels, alpha=alpha, linewidth=linewidth,
        show_points=True, legend=legend, legend_kw=legend_kw, figsize=figsize,
    )  # fmt: skip


def plot_association(
    visits: pd.DataFrame,
    x: str = "wmh_mm3",
    y: str = "alsfrs_r",
    group: str | None = None,
    fit: pd.DataFrame | None = None,
    ax: Axes | None = None,
    *,
    ylabel: str | None = None,
    xlabel: str | None = None,
    palette: Mapping[str, str] | None = None,
    group_labels: Mapping[str, str] | None = None,
    point_size: float = 14.0,
    alpha: float = 0.45,
    band_alpha: float = 0.25,
    legend: bool = True,
    legend_kw: Mapping[str, Any] | None = None,
    figsize: tuple[float, float] | None = None,
) -> Axes:
    """Scatter of one measure against another with the fitted line and band (figures 3A, 3B).

    Figure 3A: ALSFRS-R against WMH volume over all ALS visits (``group=None``); figure 3B:
    the same by ``group="survival_group"``.

    Parameters
    ----------
    visits : pandas.DataFrame
        Visit table, one point per row; needs ``x``, ``y`` and ``group`` (when given).
        ``subject`` is optional and only used to count subjects. Not modified.
    x, y : str
        Predictor (default ``"wmh_mm3"``) and outcome (default ``"alsfrs_r"``) columns.
    group : str, optional
        Colour points and fits by this column; one black fit over grey points when None.
    fit : pandas.DataFrame, optional
        Fitted relation: columns ``x`` (named as in ``visits``), ``estimate``, ``ci_low``,
        ``ci_high`` and ``group`` (when given), one row per grid point and group.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure is made when None.
    ylabel, xlabel : str, optional
        Axis labels; default to :func:`axis_label` of ``y`` and ``x`` (with units).
    palette, group_labels : mapping, optional
        Colours and legend text overriding :data:`PALETTE` and :data:`GROUP_LABELS`.
    point_size, alpha : float
        Marker area (points²) and opacity of the visits.
    band_alpha : float
        Opacity of the confidence bands.
    legend : bool
        Legend above the axes with subjects (or visits, without ``subject``) per group.
    legend_kw : mapping, optional
        Options passed on to :meth:`matplotlib.axes.Axes.legend`.
    figsize : tuple of float, optional
        Figure size in inches when a new figure is made.

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn on: a ``PathCollection`` of points per group (gid ``points:<level>``)
        and, per group of ``fit``, a fill ``PolyCollection`` (``ci:<level>``) and a ``Line2D``
        (``fit:<level>``).

    Raises
    ------
    DataValidationError
        A needed column is missing (named), not numeric, ``group`` has missing values, or
        ``fit`` repeats an ``x`` value within a group.

    Notes
    -----
    Rows whose ``x`` or ``y`` is missing (e.g. ALSFRS-R of controls) are not drawn and not
    counted in the legend.

    Examples
    --------
    >>> import pandas as pd
    >>> visits = pd.DataFrame({
    ...     "subject": ["a", "a", "b", "c"], "wmh_mm3": [2000.0, 3100.0, 4500.0, 6000.0],
    ...     "alsfrs_r": [42.0, 40.0, 37.0, 33.0]})
    >>> fit = pd.DataFrame({"wmh_mm3": [2000.0, 6000.0], "estimate": [42.0, 34.0],
    ...                     "ci_low": [40.0, 31.0], "ci_high": [44.0, 37.0]})
    >>> ax = plot_association(visits, fit=fit)
    >>> ax.get_xlabel(), ax.get_ylabel()
    ('WMH volume (mm³)', 'ALSFRS-R total (points)')
    """
    _require_columns(visits, [x, y, group], "visits")
    _require_numeric(visits, [x, y], "visits")
    if group is not None:
        _require_no_missing(visits, group, "visits")
    if fit is not None:
        _check_fit(fit, x, group)
    ax = _new_axes(ax, figsize)

    drawn = visits.loc[np.isfinite(visits[x].to_numpy(float)) & np.isfinite(
        visits[y].to_numpy(float))]  # fmt: skip
    if group is None:
        levels: list = [None]
        colours = {None: _UNGROUPED_LINES}
    else:
        levels = _levels(visits[group], *([fit[group]] if fit is not None else []))
        colours = group_colours(levels, palette)
    for level, colour in colours.items():
        rows = _rows_of(drawn, group, level)
        points = ax.scatter(
            rows[x].to_numpy(float), rows[y].to_numpy(float), s=point_size, color=colour,
            alpha=alpha, linewidths=0, zorder=1,
        )  # fmt: skip
        points.set_gid(f"points:{level}")
    fit_handles: dict = {}
    if fit is not None:
        fit_colours = {None: _UNGROUPED_FIT} if group is None else colours
        fit_handles = _draw_fit(ax, fit, x, group, fit_colours, band_alpha=band_alpha)

    ax.set_xlabel(xlabel if xlabel is not None else axis_label(x))
    ax.set_ylabel(ylabel if ylabel is not None else axis_label(y))
    if legend and group is not None:
        if "subject" in drawn.columns:
            counts = _n_subjects(drawn, group)
        else:
            counts = drawn.groupby(group, observed=True, sort=False).size().to_dict()
        from matplotlib.lines import Line2D

        handles = []
        for level in levels:
            dot = Line2D([], [], linestyle="none", marker="o", markersize=5,
                         color=colours[level], alpha=min(1.0, alpha * 1.6))  # fmt: skip
            handles.append(fit_handles.get(level, dot))
        labels = [_legend_text(level, counts, group_labels) for level in levels]
        if "subject" not in drawn.columns:
            labels = [label.replace("(n = ", "(visits = ") for label in labels]
        _legend(ax, handles, labels, legend_kw)
    return ax


def _numbers_at_risk(times: np.ndarray, n_risk: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Number at risk at each time of ``at``, read off a table with one row per distinct time.

    At time t the subjects at risk are those whose time is >= t: the ``n_risk`` of the first
    row at or after t, and 0 past the last row (R's ``summary(survfit, times=)`` reads it so).
    """
    index = np.searchsorted(times, at, side="left")
    padded = np.r_[n_risk, 0]
    return padded[index]


def plot_kaplan_meier(
    km_table: pd.DataFrame,
    group: str | None = None,
    at_risk_times: Sequence[float] | None = None,
    ax: Axes | None = None,
    ci: bool = True,
    *,
    censor_ticks: bool | None = None,
    at_risk: bool = True,
    xlabel: str | None = None,
    ylabel: str | None = None,
    palette: Mapping[str, str] | None = None,
    group_labels: Mapping[str, str] | None = None,
    band_alpha: float = 0.18,
    legend: bool = True,
    legend_kw: Mapping[str, Any] | None = None,
    figsize: tuple[float, float] | None = None,
) -> Axes:
    """Kaplan-Meier curves with confidence bands and a numbers-at-risk table under the axis.

    Parameters
    ----------
    km_table : pandas.DataFrame
        One row per distinct time (event or censoring) and group, as R ``survfit`` reports
        (``censor=TRUE``, its default): ``time``, ``survival``; ``ci_low``, ``ci_high`` when
        ``ci``; ``n_risk`` for the numbers at risk; ``n_censor`` for censor ticks; ``group``
        (when given). ``n_event`` is not needed. Not modified.
    group : str, optional
        Grouping column of ``km_table`` (e.g. ``"group"``, ``"survival_group"``); one curve
        when None.
    at_risk_times : sequence of float, optional
        Times at which to print the numbers at risk; they also become the x ticks. Default:
        the x ticks matplotlib would choose for the follow-up range.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure is made when None.
    ci : bool
        Shade the confidence band (``ci_low`` .. ``ci_high``).
    censor_ticks : bool, optional
        Mark censoring times (rows with ``n_censor > 0``) with a tick on the curve. Default:
        when ``km_table`` has ``n_censor``.
    at_risk : bool
        Print the numbers-at-risk table below the x axis label.
    xlabel, ylabel : str, optional
        Axis labels; default ``"Months since baseline MRI"`` and ``"Survival probability"``
        (a proportion, 0-1). Pass ``xlabel`` when ``time`` is not in months.
    palette, group_labels : mapping, optional
        Colours and legend text overriding :data:`PALETTE` and :data:`GROUP_LABELS`.
    band_alpha : float
        Opacity of the confidence bands.
    legend : bool
        Legend above the axes (when ``group`` is given).
    legend_kw : mapping, optional
        Options passed on to :meth:`matplotlib.axes.Axes.legend`.
    figsize : tuple of float, optional
        Figure size in inches when a new figure is made (default 5.5 x 4.5 in).

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn on: per group a ``Line2D`` step curve (gid ``km:<level>``, drawstyle
        ``steps-post``), a fill ``PolyCollection`` (``km_ci:<level>``), censor ticks
        (``censor:<level>``) and the numbers at risk as text annotations
        (``at_risk:<level>``, one per time, with the row label ``at_risk_label:<level>``).

    Raises
    ------
    DataValidationError
        A needed column is missing (named), not numeric, a time is negative or repeated within
        a group (repeated times without ``group=`` usually mean a grouped table), or
        ``survival`` lies outside [0, 1].

    Notes
    -----
    The curve is the right-continuous step function of the table, starting at (0, 1):
    S(t) is the ``survival`` of the last row with ``time <= t``. The band steps with it.
    The number at risk at time t is the ``n_risk`` of the first row with ``time >= t`` (0 after
    the last row), as R ``summary(fit, times = t)`` reports it; this holds because the table
    lists censoring times too. The table is drawn below the axis in points, so with
    ``ax=`` inside a grid of panels leave room below the axes (e.g. constrained layout).

    Examples
    --------
    >>> import pandas as pd
    >>> km = pd.DataFrame({
    ...     "time": [6.0, 14.0, 20.0, 31.0],
    ...     "n_risk": [4, 3, 2, 1], "n_event": [1, 1, 0, 1], "n_censor": [0, 0, 1, 0],
    ...     "survival": [0.75, 0.5, 0.5, 0.0],
    ...     "ci_low": [0.43, 0.18, 0.18, float("nan")],
    ...     "ci_high": [1.0, 1.0, 1.0, float("nan")]})
    >>> ax = plot_kaplan_meier(km, at_risk_times=[0, 12, 24, 36])
    >>> [t.get_text() for t in ax.texts if t.get_gid() == "at_risk:None"]
    ['4', '3', '1', '0']
    """
    needed = ["time", "survival"]
    needed += ["ci_low", "ci_high"] if ci else []
    needed += ["n_risk"] if at_risk else []
    needed += ["n_censor"] if censor_ticks else []
    _require_columns(km_table, [*needed, group], "km_table")
    _require_numeric(km_table, needed, "km_table")
    if group is not None:
        _require_no_missing(km_table, group, "km_table")
    if censor_ticks is None:
        censor_ticks = "n_censor" in km_table.columns
    problems = []
    if (km_table["time"] < 0).any():
        problems.append("column 'time' of km_table has negative values")
    survival = km_table["survival"]
    if ((survival < 0) | (survival > 1)).any():
        problems.append("column 'survival' of km_table has values outside [0, 1]")
    keys = ["time"] if group is None else [group, "time"]
    if km_table.duplicated(keys).any():
        problems.append(
            "km_table repeats a time"
            + (" within a group" if group is not None else "; pass group= for a grouped table")
        )
    if problems:
        raise DataValidationError(problems)

    ax = _new_axes(ax, figsize or (5.5, 4.5))
    levels: list = [None] if group is None else _levels(km_table[group])
    colours = {None: OKABE_ITO["black"]} if group is None else group_colours(levels, palette)
    curves = {}
    for level, colour in colours.items():
        rows = _rows_of(km_table, group, level).sort_values("time", kind="mergesort")
        times = rows["time"].to_numpy(float)
        surv = rows["survival"].to_numpy(float)
        start = not (len(times) and times[0] == 0 and surv[0] == 1)
        step_x = np.r_[0.0, times] if start else times
        step_y = np.r_[1.0, surv] if start else surv
        if ci:
            low = rows["ci_low"].to_numpy(float)
            high = rows["ci_high"].to_numpy(float)
            band = ax.fill_between(
                step_x, np.r_[1.0, low] if start else low, np.r_[1.0, high] if start else high,
                step="post", color=colour, alpha=band_alpha, linewidth=0, zorder=1,
            )  # fmt: skip
            band.set_gid(f"km_ci:{level}")
        (curve,) = ax.step(step_x, step_y, where="post", color=colour, linewidth=1.8, zorder=3)
        curve.set_gid(f"km:{level}")
        curves[level] = curve
        if censor_ticks:
            censored = rows["n_censor"].to_numpy(float) > 0
            (ticks,) = ax.plot(
                times[censored], surv[censored], linestyle="none", marker="|", markersize=7,
                markeredgewidth=1.3, color=colour, zorder=4,
            )  # fmt: skip
            ticks.set_gid(f"censor:{level}")

    t_max = float(km_table["time"].max()) if len(km_table) else 1.0
    if at_risk_times is None:
        at_risk_times = _default_times(t_max, months=xlabel is None)
    at = np.asarray(at_risk_times, dtype=float)
    if (at < 0).any():
        raise DataValidationError("at_risk_times must be >= 0")
    right = max(t_max, float(at.max()) if len(at) else 0.0)
    ax.set_xlim(0, right * 1.03 if right > 0 else 1.0)
    ax.set_ylim(0, 1.04)
    ax.set_xticks(at)
    ax.set_xlabel(xlabel if xlabel is not None else axis_label("survival_months"))
    ax.set_ylabel(ylabel if ylabel is not None else "Survival probability")

    if at_risk and len(at):
        _draw_at_risk(ax, km_table, group, levels, colours, at, group_labels)
    if legend and group is not None:
        labels = [_display(level, group_labels) for level in levels]
        _legend(ax, [curves[level] for level in levels], labels, legend_kw)
    return ax


def _default_times(t_max: float, months: bool) -> list[float]:
    """At most 7 round times from 0 to t_max; multiples of 3, 6, 12, ... months for months."""
    if months and t_max >= 12:
        step = next(s for s in (3, 6, 12, 24, 48, 96, 120, 240, 480) if t_max / s <= 6)
        return [float(t) for t in np.arange(0.0, t_max * 1.0001, step)]
    from matplotlib.ticker import MaxNLocator

    ticks = MaxNLocator(nbins=6, steps=[1, 2, 2.5, 5, 10]).tick_values(0, t_max)
    return [float(t) for t in ticks if 0 <= t <= t_max * 1.0001]


def _draw_at_risk(
    ax: Axes,
    km_table: pd.DataFrame,
    group: str | None,
    levels: list,
    colours: dict,
    at: np.ndarray,
    group_labels: Mapping[str, str] | None,
) -> None:
    """The numbers-at-risk table as annotations in points below the x axis label."""
    import matplotlib as mpl
    from matplotlib.font_manager import FontProperties

    def size(key: str) -> float:
        return FontProperties(size=mpl.rcParams[key]).get_size_in_points()

    # Offset below the axis: tick + pad + tick label + label pad + axis label + a gap.
    top = (
        mpl.rcParams["xtick.major.size"] + mpl.rcParams["xtick.major.pad"]
        + 1.3 * size("xtick.labelsize") + mpl.rcParams["axes.labelpad"]
        + 1.3 * size("axes.labelsize") + 6.0
    )  # fmt: skip
    font = max(7.0, size("xtick.labelsize") - 0.5)
    line = 1.45 * font
    header = ax.annotate(
        "Number at risk", xy=(0, 0), xycoords="axes fraction", xytext=(0, -top),
        textcoords="offset points", ha="left", va="top", fontsize=font, fontweight="bold",
        annotation_clip=False,
    )  # fmt: skip
    header.set_gid("at_risk_header")
    text_x = ax.get_xaxis_transform()
    table = {}
    for level in levels:
        rows = _rows_of(km_table, group, level).sort_values("time", kind="mergesort")
        table[level] = _numbers_at_risk(rows["time"].to_numpy(float), rows["n_risk"].to_numpy(), at)
    # Row labels end left of the half-width of the widest number centred on the first time.
    digits = max(len(str(int(n))) for counts in table.values() for n in counts)
    first = ax.transData.transform((at[0], 0))[0] - ax.transAxes.transform((0, 0))[0]
    label_x = min(0.0, first * 72.0 / ax.figure.dpi - 0.32 * font * digits) - 10.0
    for row, (level, counts) in enumerate(table.items(), start=1):
        offset = -(top + row * line)
        colour = colours[level]
        for t, n in zip(at, counts, strict=True):
            text = ax.annotate(
                f"{int(n)}", xy=(t, 0), xycoords=text_x, xytext=(0, offset),
                textcoords="offset points", ha="center", va="top", fontsize=font,
                color=colour, annotation_clip=False,
            )  # fmt: skip
            text.set_gid(f"at_risk:{level}")
        if group is not None:
            label = ax.annotate(
                _display(level, group_labels), xy=(0, 0), xycoords="axes fraction",
                xytext=(label_x, offset), textcoords="offset points", ha="right", va="top",
                fontsize=font, color=colour, annotation_clip=False,
            )  # fmt: skip
            label.set_gid(f"at_risk_label:{level}")


def _format_interval(estimate: float, low: float, high: float) -> str:
    """``estimate (low, high)``, one number of decimals: three significant digits of the
    largest magnitude of the three (so a tiny estimate in a wide interval keeps few digits)."""
    scale = max((abs(v) for v in (estimate, low, high) if np.isfinite(v) and v != 0), default=1)
    decimals = min(6, max(0, 2 - math.floor(math.log10(scale))))

    def text(value: float) -> str:
        return f"{value:.{decimals}f}".replace("-", "\N{MINUS SIGN}") if np.isfinite(value) else "NA"

    return f"{text(estimate)} ({text(low)}, {text(high)})"


def _format_p(p: float) -> str:
    if not np.isfinite(p):
        return ""
    if p < 0.001:
        return "p < 0.001"
    return f"p = {p:.3f}" if p < 0.01 else f"p = {p:.2f}"


def _log_ticks(low: float, high: float, most: int = 7) -> list[float]:
    """Round tick values inside [low, high] for a log axis, as fine as ``most`` allows."""
    for mantissas in ((1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0),
                      (1.0, 1.5, 2.0, 3.0, 5.0, 7.0), (1.0, 2.0, 5.0), (1.0,)):
        values = sorted({round(m * 10.0**k, 6) for k in range(-4, 5) for m in mantissas})
        inside = [v for v in values if low <= v <= high]
        if len(inside) <= most:
            return inside
    return inside


def plot_forest(
    coefficients: pd.DataFrame,
    terms: Sequence[str] | None = None,
    ax: Axes | None = None,
    *,
    reference: float = 0.0,
    log_scale: bool | None = None,
    labels: Mapping[str, str] | None = None,
    xlabel: str | None = None,
    hazard_ratio: bool = False,
    annotate: bool = True,
    colour: str = OKABE_ITO["black"],
    figsize: tuple[float, float] | None = None,
) -> Axes:
    """Forest plot: each term's estimate with its confidence interval, a reference line.

    Parameters
    ----------
    coefficients : pandas.DataFrame
        Index ``term``; columns ``estimate``, ``ci_low``, ``ci_high``; optional ``p_value``
        (printed beside the interval) and ``units`` (put into the x label when one unit is
        shared by every term shown). Hazard ratios must come exponentiated. Not modified.
    terms : sequence of str, optional
        Terms to show, top to bottom; default every row in table order but the intercept
        (``Intercept`` / ``(Intercept)``), whose scale rarely shares an axis with the slopes.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure is made when None (height grows with the terms).
    reference : float
        Position of the dashed vertical reference line: 0 for differences and slopes, 1 for
        hazard or odds ratios.
    log_scale : bool, optional
        Log x axis; default True exactly when ``reference == 1``. Needs positive values.
    labels : mapping, optional
        Display text per term (default the term names, which follow R: ``groupALS:years``).
    xlabel : str, optional
        Default ``"Hazard ratio (95% CI)"`` when ``reference == 1``, else ``"Estimate
        (<units>; 95% CI)"`` from the ``units`` column, else ``"Estimate (outcome units per
        unit of the term; 95% CI)"``.
    hazard_ratio : bool
        Draw a Cox table's ``hazard_ratio``, ``hazard_ratio_ci_low`` and ``hazard_ratio_ci_high``
        (as :attr:`alsstats.CoxResult.coefficients` has them) instead of ``estimate``,
        ``ci_low``, ``ci_high``; the reference line moves to 1 on a log axis.
    annotate : bool
        Print ``estimate (ci_low, ci_high)`` (three significant digits of the largest) and
        the p-value (``p < 0.001``, else two or three decimals) right of the axes.
    colour : str
        Colour of the markers and whiskers.
    figsize : tuple of float, optional
        Figure size in inches when a new figure is made.

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn on: whiskers as a ``LineCollection`` (gid ``whiskers``, one segment per
        term from ``ci_low`` to ``ci_high``), estimates as a ``Line2D`` (``estimates``), the
        reference line (``reference``); annotations ``estimate_text`` and ``p_text``.

    Raises
    ------
    DataValidationError
        A needed column or a requested term is missing (named), values are not numeric, or
        not positive on a log axis.

    Examples
    --------
    >>> import pandas as pd
    >>> coefficients = pd.DataFrame(
    ...     {"estimate": [911.5, 120.0], "ci_low": [600.0, -80.0], "ci_high": [1223.0, 320.0],
    ...      "p_value": [1e-6, 0.24]},
    ...     index=pd.Index(["groupALS:years", "sexM"], name="term"))
    >>> ax = plot_forest(coefficients)
    >>> [t.get_text() for t in ax.get_yticklabels()]
    ['groupALS:years', 'sexM']
    """
    if hazard_ratio:
        ratio_columns = ["hazard_ratio", "hazard_ratio_ci_low", "hazard_ratio_ci_high"]
        _require_columns(coefficients, ratio_columns, "coefficients")
        coefficients = coefficients.drop(columns=["estimate", "ci_low", "ci_high"],
                                         errors="ignore").rename(columns=dict(zip(
                                             ratio_columns, ["estimate", "ci_low", "ci_high"],
                                             strict=True)))
        reference = 1.0
    _require_columns(coefficients, ["estimate", "ci_low", "ci_high"], "coefficients")
    _require_numeric(coefficients, ["estimate", "ci_low", "ci_high"], "coefficients")
    if terms is None:
        terms = [t for t in coefficients.index if t not in _INTERCEPTS]
    else:
        terms = list(terms)
        missing = [t for t in terms if t not in coefficients.index]
        if missing:
            known = ", ".join(map(str, coefficients.index))
            raise DataValidationError(
                [f"term {t!r} is not in coefficients (its terms: {known})" for t in missing]
            )
    rows = coefficients.loc[terms]
    if log_scale is None:
        log_scale = reference == 1
    values = rows[["estimate", "ci_low", "ci_high"]].to_numpy(float)
    if log_scale and (values[np.isfinite(values)] <= 0).any():
        raise DataValidationError(
            "coefficients must be positive on a log axis (hazard ratios, not log hazard ratios)"
        )
    n = len(terms)
    ax = _new_axes(ax, figsize or (6.0, 1.2 + 0.42 * max(n, 1)))
    y = np.arange(n, dtype=float)[::-1]

    ax.axvline(reference, color="#888888", linestyle="--", linewidth=1.0, zorder=0,
               gid="reference")  # fmt: skip
    whiskers = ax.hlines(y, values[:, 1], values[:, 2], color=colour, linewidth=1.6, zorder=2)
    whiskers.set_gid("whiskers")
    (estimates,) = ax.plot(values[:, 0], y, linestyle="none", marker="s", markersize=6,
                           color=colour, zorder=3)  # fmt: skip
    estimates.set_gid("estimates")
    if log_scale:
        from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

        ax.set_xscale("log")
        ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
        low, high = ax.get_xlim()
        ticks = _log_ticks(low, high)
        if len(ticks) >= 2:
            ax.set_xticks(ticks)
            ax.set_xlim(low, high)
    ax.set_yticks(y)
    ax.set_yticklabels([(labels or {}).get(t, str(t)) for t in terms])
    ax.set_ylim(-0.7, n - 0.3)
    ax.tick_params(axis="y", length=0)
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)

    if xlabel is None:
        units = rows["units"].dropna().unique() if "units" in rows.columns else []
        if reference == 1:
            xlabel = "Hazard ratio (95% CI)"
        elif len(units) == 1:
            xlabel = f"Estimate ({units[0]}; 95% CI)"
        else:
            xlabel = "Estimate (outcome units per unit of the term; 95% CI)"
    ax.set_xlabel(xlabel)

    if annotate:
        header = "Hazard ratio (95% CI)" if reference == 1 else "Estimate (95% CI)"
        _annotate_forest(ax, rows, y, values, header)
    return ax


def _annotate_forest(
    ax: Axes, rows: pd.DataFrame, y: np.ndarray, values: np.ndarray, header: str
) -> None:
    """Estimate (CI) and p-value columns to the right of the axes, aligned with the rows."""
    import matplotlib as mpl
    from matplotlib.font_manager import FontProperties

    font = FontProperties(size=mpl.rcParams["ytick.labelsize"]).get_size_in_points()
    where = ax.get_yaxis_transform()
    notes = []
    for position, (estimate, low, high) in zip(y, values, strict=True):
        note = ax.annotate(
            _format_interval(estimate, low, high), xy=(1, position), xycoords=where,
            xytext=(10, 0), textcoords="offset points", ha="left", va="center", fontsize=font,
            annotation_clip=False,
        )  # fmt: skip
        note.set_gid("estimate_text")
        notes.append(note)
    title = ax.annotate(header, xy=(1, 1), xycoords="axes fraction", xytext=(10, 4),
                        textcoords="offset points", ha="left", va="bottom", fontsize=font,
                        fontweight="bold", annotation_clip=False)  # fmt: skip
    title.set_gid("estimate_header")
    if "p_value" not in rows.columns:
        return
    p_offset = 10 + _widest_points(ax, notes, font) + 14
    for position, p in zip(y, rows["p_value"].to_numpy(float), strict=True):
        p_note = ax.annotate(_format_p(p), xy=(1, position), xycoords=where,
                             xytext=(p_offset, 0), textcoords="offset points", ha="left",
                             va="center", fontsize=font, annotation_clip=False)  # fmt: skip
        p_note.set_gid("p_text")


def _widest_points(ax: Axes, texts: list, font: float) -> float:
    """Width in points of the widest text, measured when the canvas can render, else guessed."""
    try:
        renderer = ax.figure.canvas.get_renderer()
    except AttributeError:
        return 0.6 * font * max((len(t.get_text()) for t in texts), default=0)
    widths = [t.get_window_extent(renderer).width for t in texts]
    return max(widths, default=0.0) * 72.0 / ax.figure.dpi


def plot_dynamic_survival(
    predictions: pd.DataFrame,
    ax: Axes | None = None,
    *,
    subject: str = "subject",
    xlabel: str = "Years since baseline MRI",
    ylabel: str = "Survival probability, given alive at last visit",
    palette: Mapping[str, str] | None = None,
    legend: bool = True,
    legend_kw: Mapping[str, Any] | None = None,
    figsize: tuple[float, float] | None = None,
) -> Axes:
    """Dynamic survival curves of a few patients, from a joint model's predictions.

    Parameters
    ----------
    predictions : pandas.DataFrame
        As returned by :meth:`alsstats.JointResult.predict_survival`: columns ``subject``,
        ``time``, ``last_time``, ``survival`` and optionally ``lower``, ``upper`` (a Monte
        Carlo band). Not modified.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure is made when None.
    subject : str
        Subject column.
    xlabel, ylabel : str
        Axis labels.
    palette : mapping, optional
        Subject -> colour (default: Okabe-Ito colours in order).
    legend : bool
        Legend above the axes (one entry per subject, with the last visit's time).
    legend_kw : mapping, optional
        Options passed on to :meth:`matplotlib.axes.Axes.legend`.
    figsize : tuple of float, optional
        Figure size in inches when a new figure is made.

    Returns
    -------
    matplotlib.axes.Axes
        Curves start at 1 at each subject's last visit (gid ``survival:<subject>``); bands
        ``band:<subject>``; a dotted line at the last visit (``last_visit:<subject>``).

    Raises
    ------
    DataValidationError
        A needed column is missing (named) or not numeric.

    Examples
    --------
    >>> import pandas as pd
    >>> pred = pd.DataFrame({"subject": ["a", "a", "b", "b"], "time": [1.0, 2.0, 1.5, 2.0],
    ...                      "last_time": [0.5, 0.5, 1.0, 1.0],
    ...                      "survival": [0.9, 0.7, 0.95, 0.9]})
    >>> ax = plot_dynamic_survival(pred)
    >>> [line.get_gid() for line in ax.lines if line.get_gid().startswith("survival")]
    ['survival:a', 'survival:b']
    """
    _require_columns(predictions, [subject, "time", "last_time", "survival"], "predictions")
    _require_numeric(predictions, ["time", "last_time", "survival"], "predictions")
    ax = _new_axes(ax, figsize)
    levels = list(pd.unique(predictions[subject]))
    colours = group_colours([str(level) for level in levels], palette)
    band = {"lower", "upper"} <= set(predictions.columns)
    handles, labels = [], []
    for level in levels:
        rows = predictions.loc[(predictions[subject] == level).to_numpy()].sort_values("time")
        start = float(rows["last_time"].iloc[0])
        colour = colours[str(level)]
        x = np.concatenate([[start], rows["time"].to_numpy()])
        line, = ax.plot(x, np.concatenate([[1.0], rows["survival"].to_numpy()]), color=colour,
                        linewidth=1.8, gid=f"survival:{level}")
        if band:
            ax.fill_between(x, np.concatenate([[1.0], rows["lower"].to_numpy()]),
                            np.concatenate([[1.0], rows["upper"].to_numpy()]), color=colour,
                            alpha=0.2, linewidth=0, gid=f"band:{level}")
        ax.axvline(start, color=colour, linestyle=":", linewidth=1.0,
                   gid=f"last_visit:{level}")
        handles.append(line)
        labels.append(f"{level} (last visit {start:.2g})")
    ax.set_ylim(0, 1.02)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if legend:
        _legend(ax, handles, labels, legend_kw)
    return ax
