"""One measure against another: a point per visit with the model's line and band (3A, 3B)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pandas as pd

from alsstats._deprecation import renamed_arguments
from alsstats.plotting._common import (
    FIT_VALUE_COLUMNS,
    MISSING_HINT,
    check_fit,
    ci_level_of,
    finite_rows,
    formerly_positional,
    is_frame,
    levels_of,
    n_subjects,
    new_axes,
    response_of,
    rows_of,
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
    point_key,
)
from alsstats.plotting.trajectories import draw_fit
from alsstats.validation import require_columns, require_no_missing, require_numeric

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["plot_association"]


def _from_result(result: Any, x: str, y: str | None, fit: pd.DataFrame | None
                 ) -> tuple[pd.DataFrame, str, str | None, pd.DataFrame | None]:
    data = getattr(result, "data", None)
    if not is_frame(data):
        raise TypeError(
            "plot_association takes a visit table or a result that carries its data and fit "
            f"(e.g. alsstats.alsfrs_vs_wmh(...)); got {type(result).__name__} without a "
            "'data' table"
        )
    if fit is None:
        fit = getattr(result, "fit", None)
        fit = fit if is_frame(fit) else None
    if fit is not None and x not in fit.columns:
        candidates = [c for c in fit.columns if c not in FIT_VALUE_COLUMNS]
        x = candidates[0] if len(candidates) == 1 else x
    if y is None:
        y = response_of(result)
    return data, x, y, fit


@formerly_positional("by", "fit", "ax")
@renamed_arguments(group="by")
def plot_association(
    data: pd.DataFrame | Any,
    x: str = "wmh_mm3",
    y: str | None = None,
    *,
    by: str | None = None,
    fit: pd.DataFrame | None = None,
    ax: Axes | None = None,
    ci_level: float | None = None,
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

    Figure 3A: ALSFRS-R against WMH volume over all ALS visits (``by=None``); figure 3B:
    the same by ``by="survival_group"``. The legend says what a point is (one visit), how
    many visits and subjects are drawn, and what the line and band are.

    Parameters
    ----------
    data : pandas.DataFrame or result
        Visit table, one point per row; needs ``x``, ``y`` and ``by`` (when given).
        ``subject`` is optional and only used to count subjects. Not modified. Or a result
        carrying ``data`` and ``fit`` (e.g. :func:`alsstats.alsfrs_vs_wmh`): its tables, its
        response (``y``) and its CI level are used.
    x : str
        Predictor column (default ``"wmh_mm3"``; with a result, the fit table's ``x`` column).
    y : str, optional
        Outcome column; default the result's response, else ``"alsfrs_r"``.
    by : str, optional
        Colour points and fits by this column (was ``group``); one black fit over grey points
        when None.
    fit : pandas.DataFrame, optional
        Fitted relation: columns ``x`` (named as in ``data``), ``estimate``, ``ci_low``,
        ``ci_high`` and ``by`` (when given), one row per grid point and group.
    ax : matplotlib.axes.Axes, optional, keyword-only
        Where to draw; a new figure is made when None.
    ci_level : float, optional
        Level of the band, for the legend; default the result's.
    ylabel, xlabel : str, optional
        Axis labels; default to :func:`axis_label` of ``y`` and ``x`` (with units).
    palette, group_labels : mapping, optional
        Colours and legend text overriding :data:`PALETTE` and :data:`GROUP_LABELS`.
    point_size, alpha : float
        Marker area (points²) and opacity of the visits.
    band_alpha : float
        Opacity of the confidence bands.
    legend : bool
        Legend above the axes.
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
        A needed column is missing (named), not numeric, ``by`` has missing values, or
        ``fit`` repeats an ``x`` value within a group.

    Notes
    -----
    Rows whose ``x`` or ``y`` is missing (e.g. ALSFRS-R of controls) are not drawn and not
    counted in the legend. Passing ``by``, ``fit`` or ``ax`` by position is deprecated.

    Examples
    --------
    >>> import pandas as pd
    >>> from alsstats.plotting import legend_texts
    >>> visits = pd.DataFrame({
    ...     "subject": ["a", "a", "b", "c"], "wmh_mm3": [2000.0, 3100.0, 4500.0, 6000.0],
    ...     "alsfrs_r": [42.0, 40.0, 37.0, 33.0]})
    >>> fit = pd.DataFrame({"wmh_mm3": [2000.0, 6000.0], "estimate": [42.0, 34.0],
    ...                     "ci_low": [40.0, 31.0], "ci_high": [44.0, 37.0]})
    >>> ax = plot_association(visits, fit=fit)
    >>> ax.get_xlabel(), ax.get_ylabel()
    ('WMH volume (mm³)', 'ALSFRS-R total (points)')
    >>> legend_texts(ax)
    ['One point per visit (4 visits, 3 subjects)', 'Model fit (line), CI (band)']
    """
    result = None
    if not is_frame(data):
        result = data
        data, x, y, fit = _from_result(result, x, y, fit)
    y = "alsfrs_r" if y is None else y
    visits = data
    caller = "plot_association"
    require_columns(visits, [x, y, by], caller=caller, table="data")
    require_numeric(visits, [x, y], caller=caller, table="data")
    if by is not None:
        require_no_missing(visits, [by], caller=caller, table="data", hint=MISSING_HINT)
    if fit is not None:
        check_fit(fit, x, by, caller=caller)
    ax = new_axes(ax, figsize)

    drawn = finite_rows(visits, x, y)
    if by is None:
        levels: list = [None]
        colours = {None: UNGROUPED_LINES}
    else:
        levels = levels_of(visits[by], *([fit[by]] if fit is not None else []))
        colours = group_colours(levels, palette)
    for level, colour in colours.items():
        rows = rows_of(drawn, by, level)
        points = ax.scatter(
            rows[x].to_numpy(float), rows[y].to_numpy(float), s=point_size, color=colour,
            alpha=alpha, linewidths=0, zorder=1,
        )  # fmt: skip
        points.set_gid(f"points:{level}")
    fit_handles: dict = {}
    if fit is not None:
        fit_colours = {None: UNGROUPED_FIT} if by is None else colours
        fit_handles = draw_fit(ax, fit, x, by, fit_colours, band_alpha=band_alpha)

    ax.set_xlabel(xlabel if xlabel is not None else axis_label(x))
    ax.set_ylabel(ylabel if ylabel is not None else axis_label(y))
    if legend:
        has_subjects = "subject" in drawn.columns
        handles: list = []
        labels: list[str] = []
        if by is not None:
            counts = (n_subjects(drawn, by) if has_subjects
                      else drawn.groupby(by, observed=True, sort=False).size().to_dict())
            for level in levels:
                dot = point_key(colours[level], alpha=min(1.0, alpha * 1.6))
                handles.append(fit_handles.get(level, dot))
                labels.append(legend_text(level, counts, group_labels,
                                          "" if has_subjects else " visits"))
        what = f"{len(drawn):,} visits"
        if has_subjects:
            what += f", {drawn['subject'].nunique():,} subjects"
        key = KEY_COLOUR if by is not None else UNGROUPED_LINES
        keys: tuple[list, list[str]] = ([point_key(key, alpha=min(1.0, alpha * 1.6))],
                                        [f"One point per visit ({what})"])
        if fit_handles:
            level_text = ci_text(ci_level if ci_level is not None else ci_level_of(
                result, getattr(result, "model", None)))
            keys[0].append(band_line_key(KEY_COLOUR if by is not None else UNGROUPED_FIT,
                                         band_alpha=band_alpha))
            keys[1].append(f"Model fit (line), {level_text} (band)")
        draw_legend(ax, handles, labels, legend_kw, keys)
    return ax
