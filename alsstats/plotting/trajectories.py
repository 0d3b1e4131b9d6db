"""Trajectories over time: model means with their bands over faint subject lines (2A, 2B, qFLAIR)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from alsstats._deprecation import renamed_arguments
from alsstats.errors import DataValidationError
from alsstats.plotting._common import (
    MISSING_HINT,
    check_fit,
    ci_level_of,
    finite_rows,
    fit_group_column,
    formerly_positional,
    is_frame,
    levels_of,
    n_subjects,
    new_axes,
    response_of,
    rows_of,
    subject_counts_of,
)
from alsstats.plotting.style import (
    KEY_COLOUR,
    UNGROUPED_FIT,
    UNGROUPED_LINES,
    axis_label,
    band_line_key,
    ci_text,
    draw_legend,
    group_colours,
    legend_text,
    line_key,
    point_key,
)
from alsstats.validation import require_columns, require_no_missing, require_numeric

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["plot_spaghetti", "plot_trajectories"]

_RASTER_ABOVE = 2000  # subject lines (or points) per group drawn as a raster in vector output
_FIT_LINEWIDTH = 2.6


def draw_subjects(
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
) -> bool:
    """One LineCollection per group, one polyline per subject (visits in time order).

    Subjects with a single visit are drawn as a point, since a one-point line is invisible.
    Returns whether any point was drawn.
    """
    from matplotlib.collections import LineCollection

    drawn = finite_rows(visits, x, y)
    any_points = False
    for level, colour in colours.items():
        rows = rows_of(drawn, group, level).sort_values(["subject", x], kind="mergesort")
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
            any_points = True
            dots = ax.scatter(
                shown[:, 0], shown[:, 1], s=9 if show_points else 6, color=colour,
                alpha=min(1.0, alpha * 1.5), linewidths=0, zorder=1,
            )  # fmt: skip
            dots.set_gid(f"subject_points:{level}")
            dots.set_rasterized(len(shown) > _RASTER_ABOVE)
    ax.autoscale_view()
    return any_points


def draw_fit(
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
        rows = rows_of(fit, group, level)
        if rows.empty:
            continue
        if rows[x].duplicated().any():
            raise DataValidationError(
                f"fit has repeated values of {x!r}"
                + (f" within {group}={level!r}" if group is not None else "; pass by=")
            )
        rows = rows.sort_values(x, kind="mergesort")
        xs = rows[x].to_numpy(float)
        band = ax.fill_between(
            xs, rows["ci_low"].to_numpy(float), rows["ci_high"].to_numpy(float),
            color=colour, alpha=band_alpha, linewidth=0, zorder=4,
        )  # fmt: skip
        band.set_gid(f"ci:{level}")
        # A white halo lifts the mean line off the subject lines beneath it.
        (line,) = ax.plot(
            xs, rows["estimate"].to_numpy(float), color=colour, linewidth=_FIT_LINEWIDTH,
            zorder=5, path_effects=[pe.Stroke(linewidth=_FIT_LINEWIDTH + 2.2, foreground="white"),
                                    pe.Normal()],
        )  # fmt: skip
        line.set_gid(f"fit:{level}")
        handles[level] = (band, line)
    return handles


def _from_result(result: Any, y: str | None, group: str | None, fit: pd.DataFrame | None,
                 x: str) -> tuple[pd.DataFrame, str | None, str | None, pd.DataFrame | None]:
    data = getattr(result, "data", None)
    if not is_frame(data):
        raise TypeError(
            f"plot_trajectories takes a visit table or a result that carries its data and fit "
            f"(e.g. alsstats.wmh_progression(...)); got {type(result).__name__} without a "
            "'data' table"
        )
    if fit is None:
        fit = getattr(result, "fit", None)
        fit = fit if is_frame(fit) else None
    if y is None:
        y = response_of(result)
    if group == "group" and fit is not None and "group" not in fit.columns:
        group = fit_group_column(fit, x)
    return data, y, group, fit


@formerly_positional("by", "fit", "visit_time", "ax")
@renamed_arguments(group="by", x="visit_time")
def plot_trajectories(
    data: pd.DataFrame | Any,
    y: str | None = None,
    *,
    by: str | None = "group",
    fit: pd.DataFrame | None = None,
    visit_time: str = "years",
    ax: Axes | None = None,
    subjects: bool = True,
    ci_level: float | None = None,
    ylabel: str | None = None,
    xlabel: str | None = None,
    palette: Mapping[str, str] | None = None,
    group_labels: Mapping[str, str] | None = None,
    alpha: float | None = None,
    linewidth: float | None = None,
    band_alpha: float = 0.3,
    show_points: bool = False,
    legend: bool = True,
    legend_kw: Mapping[str, Any] | None = None,
    figsize: tuple[float, float] | None = None,
) -> Axes:
    """Model-based group means with their confidence bands over the subjects' trajectories.

    Figure 2A: ``by="group"`` (ALS vs controls); figure 2B: ``by="survival_group"``
    (``"short"`` vs ``"long"``); qFLAIR: ``y="flair_cst"``. Each group's model mean is a thick
    line over its shaded confidence band, drawn on top; each subject is a thin, faint line
    beneath (``subjects=False`` leaves them out). The legend names the groups with their
    number of subjects, then what the line, the band, the thin lines and the dots are.

    Parameters
    ----------
    data : pandas.DataFrame or result
        Visit table, one row per subject and visit; needs ``subject``, ``visit_time``, ``y``
        and ``by`` (when given). Not modified. Or a result carrying ``data`` and ``fit``
        (:class:`alsstats.AnalysisResult`, e.g. from :func:`alsstats.wmh_progression`): its
        tables, its response (``y``), its grouping column, its CI level and its subject
        counts are used.
    y : str, optional
        Biomarker column; default the result's response, else ``"wmh_mm3"``.
    by : str or None
        Column whose levels are the groups drawn (``"group"``, ``"survival_group"``,
        ``"phenotype"``, ...; was ``group``); None draws every subject in grey and one fit in
        black. With a result whose fit table has another grouping column than ``by``, that
        column.
    fit : pandas.DataFrame, optional
        Model-based trajectories: columns ``visit_time``, ``estimate``, ``ci_low``,
        ``ci_high`` and ``by`` (when given), one row per grid point and group, e.g.
        ``AnalysisResult.fit``. Groups of ``fit`` absent from ``data`` are drawn too.
    visit_time : str
        Visit-time column (default ``"years"``; was ``x``), in both ``data`` and ``fit``.
    ax : matplotlib.axes.Axes, optional, keyword-only
        Where to draw; a new figure (5.5 x 4 in, constrained layout) is made when None.
    subjects : bool
        Draw the subjects' own trajectories under the means.
    ci_level : float, optional
        Level of the band, for the legend (``0.95`` -> "95% CI"); default the result's.
    ylabel, xlabel : str, optional
        Axis labels; default to :func:`axis_label` of ``y`` and ``visit_time`` (with units).
    palette : mapping, optional
        Colours overriding :data:`PALETTE` per group level.
    group_labels : mapping, optional
        Legend text overriding :data:`GROUP_LABELS` per group level.
    alpha, linewidth : float, optional
        Opacity and width of the subject lines; default 0.12 and 0.5 under a fit (so the
        means stand out), 0.25 and 0.7 without.
    band_alpha : float
        Opacity of the confidence bands.
    show_points : bool
        Mark every visit with a dot (single-visit subjects always get one).
    legend : bool
        Draw the legend (above the axes, so it never covers data).
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
        ``by`` has missing values, or ``fit`` repeats a ``visit_time`` value within a group.

    Notes
    -----
    Rows whose ``visit_time`` or ``y`` is missing are not drawn (a subject's line joins its
    remaining visits); the legend's *n* counts subjects with at least one drawn visit (with a
    result: the subjects its model used). The band is drawn as given: no smoothing, no
    recomputation. Above 2,000 subjects per group the subject lines are rasterised in PDF/SVG
    output (fit lines, bands, text stay vector). Passing ``by``, ``fit``, ``visit_time`` or
    ``ax`` by position is deprecated.

    Examples
    --------
    >>> import pandas as pd
    >>> from alsstats.plotting import legend_texts
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
    >>> ax = plot_trajectories(visits, fit=fit, ci_level=0.95)
    >>> ax.get_ylabel(), ax.get_xlabel()
    ('WMH volume (mm³)', 'Time since baseline MRI (years)')
    >>> legend_texts(ax)
    ['ALS (n = 2)', 'Controls (n = 1)', 'Model mean (line), 95% CI (band)', 'Subjects (thin lines)']
    """
    result = None
    if not is_frame(data):
        result = data
        data, y, by, fit = _from_result(result, y, by, fit, visit_time)
    y = "wmh_mm3" if y is None else y
    visits = data
    caller = "plot_trajectories"
    require_columns(visits, ["subject", visit_time, y, by], caller=caller, table="data")
    require_numeric(visits, [visit_time, y], caller=caller, table="data")
    if by is not None:
        require_no_missing(visits, [by], caller=caller, table="data", hint=MISSING_HINT)
    if fit is not None:
        check_fit(fit, visit_time, by, caller=caller)
    ax = new_axes(ax, figsize)
    if alpha is None:
        alpha = 0.12 if fit is not None else 0.25
    if linewidth is None:
        linewidth = 0.5 if fit is not None else 0.7

    if by is None:
        levels: list = [None]
    else:
        levels = levels_of(visits[by], *([fit[by]] if fit is not None else []))
    colours = {None: UNGROUPED_LINES} if by is None else group_colours(levels, palette)
    dots = False
    if subjects:
        dots = draw_subjects(
            ax, visits, visit_time, y, by, colours,
            alpha=alpha, linewidth=linewidth, show_points=show_points,
        )  # fmt: skip
    fit_handles: dict = {}
    if fit is not None:
        fit_colours = {None: UNGROUPED_FIT} if by is None else colours
        fit_handles = draw_fit(ax, fit, visit_time, by, fit_colours, band_alpha=band_alpha)
        if not subjects:
            ax.autoscale_view()

    ax.set_xlabel(xlabel if xlabel is not None else axis_label(visit_time))
    ax.set_ylabel(ylabel if ylabel is not None else axis_label(y))
    if legend:
        counts = subject_counts_of(result, by) if result is not None else None
        if counts is None:
            counts = n_subjects(finite_rows(visits, visit_time, y), by)
        handles: list = []
        labels: list[str] = []
        if by is not None:
            handles = [fit_handles.get(level, line_key(colours[level])) for level in levels]
            labels = [legend_text(level, counts, group_labels) for level in levels]
        key_colour = KEY_COLOUR if by is not None else UNGROUPED_FIT
        keys: tuple[list, list[str]] = ([], [])
        if fit_handles:
            level_text = ci_text(ci_level if ci_level is not None else ci_level_of(
                result, getattr(result, "model", None)))
            keys[0].append(band_line_key(key_colour, band_alpha=band_alpha))
            keys[1].append(f"Model mean (line), {level_text} (band)")
        if subjects:
            keys[0].append(line_key(KEY_COLOUR, linewidth=0.8, alpha=0.6))
            subject_text = "Subjects (thin lines)"
            if by is None and None in counts:
                subject_text = f"Subjects (thin lines; n = {counts[None]:,})"
            keys[1].append(subject_text)
            if show_points:
                keys[0].append(point_key(KEY_COLOUR, alpha=0.6, size=3.5))
                keys[1].append("Visits (dots)")
            elif dots:
                keys[0].append(point_key(KEY_COLOUR, alpha=0.6, size=3.0))
                keys[1].append("Subjects with one visit (dots)")
        draw_legend(ax, handles, labels, legend_kw, keys)
    return ax


@formerly_positional("by", "visit_time", "ax")
@renamed_arguments(group="by", x="visit_time")
def plot_spaghetti(
    data: pd.DataFrame,
    y: str,
    *,
    by: str | None = None,
    visit_time: str = "years",
    ax: Axes | None = None,
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
    data : pandas.DataFrame
        Visit table; needs ``subject``, ``visit_time``, ``y`` and ``by`` (when given). Not
        modified.
    y : str
        Biomarker column, e.g. ``"flair_cst"``, ``"alsfrs_r"``, ``"wmh_mm3"``.
    by : str, optional
        Colour subjects by this column (``"group"``, ``"phenotype"``, ...; was ``group``);
        grey when None.
    visit_time : str
        Visit-time column (default ``"years"``; was ``x``).
    ax : matplotlib.axes.Axes, optional, keyword-only
        Where to draw; a new figure is made when None.
    ylabel, xlabel : str, optional
        Axis labels; default to :func:`axis_label` of ``y`` and ``visit_time`` (with units).
    palette, group_labels : mapping, optional
        Colours and legend text overriding :data:`PALETTE` and :data:`GROUP_LABELS`.
    alpha, linewidth : float
        Opacity and width of the lines.
    legend : bool
        Legend above the axes: subjects per group, what a line and a dot are.
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
        A needed column is missing (named), not numeric, or ``by`` has missing values.

    Notes
    -----
    Rows whose ``visit_time`` or ``y`` is missing are not drawn; a subject's line joins its
    remaining visits. Passing ``by``, ``visit_time`` or ``ax`` by position is deprecated.

    Examples
    --------
    >>> import pandas as pd
    >>> visits = pd.DataFrame({
    ...     "subject": ["a", "a", "b", "b", "b"], "years": [0.0, 1.0, 0.0, 0.5, 1.2],
    ...     "phenotype": ["classic", "classic", "PLS", "PLS", "PLS"],
    ...     "flair_cst": [1.10, 1.14, 1.05, 1.07, 1.12]})
    >>> ax = plot_spaghetti(visits, "flair_cst", by="phenotype")
    >>> ax.get_ylabel()
    'Normalised FLAIR intensity, CST (ratio to reference)'
    """
    return plot_trajectories(
        data, y=y, by=by, fit=None, visit_time=visit_time, ax=ax, ylabel=ylabel, xlabel=xlabel,
        palette=palette, group_labels=group_labels, alpha=alpha, linewidth=linewidth,
        show_points=True, legend=legend, legend_kw=legend_kw, figsize=figsize,
    )  # fmt: skip
