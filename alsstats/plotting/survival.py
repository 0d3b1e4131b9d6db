"""Kaplan-Meier curves with numbers at risk under the axis and the log-rank p on the plot."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from alsstats._deprecation import renamed_arguments
from alsstats.errors import DataValidationError
from alsstats.formatting import format_p_value
from alsstats.plotting._common import (
    MISSING_HINT,
    ci_level_of,
    formerly_positional,
    is_frame,
    levels_of,
    new_axes,
    rows_of,
)
from alsstats.plotting.style import (
    KEY_COLOUR,
    OKABE_ITO,
    axis_label,
    ci_text,
    display,
    draw_legend,
    group_colours,
    legend_text,
    renderer_of,
)
from alsstats.validation import TableCheck, require_columns, require_no_missing, require_numeric

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["plot_dynamic_survival", "plot_kaplan_meier"]


def _numbers_at_risk(times: np.ndarray, n_risk: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Number at risk at each time of ``at``, read off a table with one row per distinct time.

    At time t the subjects at risk are those whose time is >= t: the ``n_risk`` of the first
    row at or after t, and 0 past the last row (R's ``summary(survfit, times=)`` reads it so).
    """
    index = np.searchsorted(times, at, side="left")
    padded = np.r_[n_risk, 0]
    return padded[index]


@formerly_positional("by", "at_risk_times", "ax", "ci")
@renamed_arguments(group="by")
def plot_kaplan_meier(
    data: pd.DataFrame | Any,
    *,
    by: str | None = None,
    at_risk_times: Sequence[float] | None = None,
    ax: Axes | None = None,
    ci: bool = True,
    logrank: Any = None,
    ci_level: float | None = None,
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
    """Kaplan-Meier curves with confidence bands, numbers at risk under the axis, log-rank p.

    Each curve is named in the legend with its number of subjects (``Low WMH (n = 116)``);
    pass ``group_labels`` to name the groups in words. With ``logrank=`` the test's
    chi-square, df and p-value are printed in the top right corner of the plot.

    Parameters
    ----------
    data : pandas.DataFrame or KaplanMeierResult
        A Kaplan-Meier table: one row per distinct time (event or censoring) and group, as R
        ``survfit`` reports (``censor=TRUE``, its default): ``time``, ``survival``;
        ``ci_low``, ``ci_high`` when ``ci``; ``n_risk`` for the numbers at risk; ``n_censor``
        for censor ticks; ``by`` (when given). ``n_event`` is not needed. Not modified.
        Or a :class:`alsstats.KaplanMeierResult`: its table, its grouping, its CI level and
        its subjects per group are used.
    by : str, optional
        Column of the table whose levels are the curves (e.g. ``"group"``,
        ``"survival_group"``; was ``group``); one curve when None. With a result: its
        ``group`` column when it has one.
    at_risk_times : sequence of float, optional
        Times at which to print the numbers at risk; they also become the x ticks. Default:
        the x ticks matplotlib would choose for the follow-up range.
    ax : matplotlib.axes.Axes, optional, keyword-only
        Where to draw; a new figure is made when None.
    ci : bool, keyword-only
        Shade the confidence band (``ci_low`` .. ``ci_high``).
    logrank : LogRankResult or float, optional
        The log-rank test of these curves (:func:`alsstats.logrank_test`), or its p-value:
        printed on the plot (gid ``logrank``). Nothing is computed here.
    ci_level : float, optional
        Level of the band, for the legend; default the result's.
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
        Legend above the axes: the curves with their n, the band and the censor ticks.
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
        a group (repeated times without ``by=`` usually mean a grouped table), or
        ``survival`` lies outside [0, 1].

    Notes
    -----
    The curve is the right-continuous step function of the table, starting at (0, 1):
    S(t) is the ``survival`` of the last row with ``time <= t``. The band steps with it.
    The number at risk at time t is the ``n_risk`` of the first row with ``time >= t`` (0 after
    the last row), as R ``summary(fit, times = t)`` reports it; this holds because the table
    lists censoring times too. The table is drawn below the axis in points, so with
    ``ax=`` inside a grid of panels leave room below the axes (e.g. constrained layout).
    The n of a curve is that of the result's ``median`` table, else the number at risk at
    the table's first time. Passing ``by``, ``at_risk_times``, ``ax`` or ``ci`` by position is
    deprecated.

    Examples
    --------
    >>> import pandas as pd
    >>> from alsstats.plotting import legend_texts
    >>> km = pd.DataFrame({
    ...     "time": [6.0, 14.0, 20.0, 31.0],
    ...     "n_risk": [4, 3, 2, 1], "n_event": [1, 1, 0, 1], "n_censor": [0, 0, 1, 0],
    ...     "survival": [0.75, 0.5, 0.5, 0.0],
    ...     "ci_low": [0.43, 0.18, 0.18, float("nan")],
    ...     "ci_high": [1.0, 1.0, 1.0, float("nan")]})
    >>> ax = plot_kaplan_meier(km, at_risk_times=[0, 12, 24, 36])
    >>> [t.get_text() for t in ax.texts if t.get_gid() == "at_risk:None"]
    ['4', '3', '1', '0']
    >>> ax = plot_kaplan_meier(km.assign(arm="A"), by="arm", logrank=0.0042)
    >>> legend_texts(ax)
    ['A (n = 4)', 'CI (band)', 'Censored (tick)']
    >>> legend_texts(plot_kaplan_meier(km))[0]
    'All subjects (n = 4)'
    >>> [t.get_text() for t in ax.texts if t.get_gid() == "logrank"]
    ['Log-rank p = 0.004']
    """
    result = None
    if not is_frame(data):
        result = data
        data = getattr(result, "table", None)
        if not is_frame(data):
            raise TypeError(
                "plot_kaplan_meier takes a Kaplan-Meier table or a KaplanMeierResult "
                f"(alsstats.kaplan_meier); got {type(result).__name__} without a 'table'"
            )
        if by is None and "group" in data.columns:
            by = "group"
    km_table = data
    needed = ["time", "survival"]
    needed += ["ci_low", "ci_high"] if ci else []
    needed += ["n_risk"] if at_risk else []
    needed += ["n_censor"] if censor_ticks else []
    caller = "plot_kaplan_meier"
    require_columns(km_table, [*needed, by], caller=caller, table="km_table")
    require_numeric(km_table, needed, caller=caller, table="km_table")
    if by is not None:
        require_no_missing(km_table, [by], caller=caller, table="km_table", hint=MISSING_HINT)
    if censor_ticks is None:
        censor_ticks = "n_censor" in km_table.columns
    check = TableCheck(km_table, caller, table="km_table")
    check.within("time", km_table["time"], low=0)
    check.within("survival", km_table["survival"], low=0, high=1)
    check.unique_rows(["time"] if by is None else [by, "time"],
                      hint="" if by is not None else "; pass by= for a grouped table")
    check.raise_problems()

    ax = new_axes(ax, figsize or (5.5, 4.5))
    levels: list = [None] if by is None else levels_of(km_table[by])
    colours = {None: OKABE_ITO["black"]} if by is None else group_colours(levels, palette)
    curves = {}
    for level, colour in colours.items():
        rows = rows_of(km_table, by, level).sort_values("time", kind="mergesort")
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
        _draw_at_risk(ax, km_table, by, levels, colours, at, group_labels)
    if logrank is not None:
        _draw_logrank(ax, logrank)
    if legend:
        counts = _curve_sizes(result, km_table, by, levels)
        handles = [curves[level] for level in levels]
        labels = [legend_text(level, counts, group_labels) for level in levels]
        keys: tuple[list, list[str]] = ([], [])
        if ci:
            from matplotlib.patches import Patch

            level_text = ci_text(ci_level if ci_level is not None else ci_level_of(result))
            keys[0].append(Patch(facecolor=KEY_COLOUR, alpha=band_alpha + 0.1, linewidth=0))
            keys[1].append(f"{level_text} (band)")
        if censor_ticks:
            from matplotlib.lines import Line2D

            keys[0].append(Line2D([], [], linestyle="none", marker="|", markersize=7,
                                  markeredgewidth=1.3, color=KEY_COLOUR))
            keys[1].append("Censored (tick)")
        draw_legend(ax, handles, labels, legend_kw, keys)
    return ax


def _curve_sizes(result: Any, table: pd.DataFrame, group: str | None, levels: list) -> dict:
    """Subjects per curve: the result's median table, else the number at risk at time 0."""
    median = getattr(result, "median", None)
    if is_frame(median) and {"group", "n"} <= set(median.columns):
        if group is None:
            return {None: int(median["n"].iloc[0])} if len(median) == 1 else {}
        return {level: int(n) for level, n in zip(median["group"], median["n"], strict=True)}
    if "n_risk" not in table.columns:
        return {}
    out = {}
    for level in levels:
        rows = rows_of(table, group, level).sort_values("time", kind="mergesort")
        if len(rows):
            out[level] = int(rows["n_risk"].iloc[0])
    return out


def _draw_logrank(ax: Axes, logrank: Any) -> None:
    """The log-rank test as given (chi-square, df, p), top right inside the axes."""
    if isinstance(logrank, (int, float, np.floating)):
        text = f"Log-rank {format_p_value(float(logrank), prefix='p')}"
    else:
        p_value = getattr(logrank, "p_value", None)
        if p_value is None:
            raise TypeError("logrank must be a LogRankResult (alsstats.logrank_test) or a "
                            f"p-value, got {type(logrank).__name__}")
        text = f"Log-rank {format_p_value(float(p_value), prefix='p')}"
        statistic, df = getattr(logrank, "statistic", None), getattr(logrank, "df", None)
        if statistic is not None and df is not None:
            text = (f"Log-rank \N{GREEK SMALL LETTER CHI}\N{SUPERSCRIPT TWO} = {statistic:.2f}, "
                    f"df = {df}, {format_p_value(float(p_value), prefix='p')}")
    note = ax.annotate(text, xy=(1, 1), xycoords="axes fraction", xytext=(-6, -6),
                       textcoords="offset points", ha="right", va="top", zorder=6,
                       bbox={"boxstyle": "square,pad=0.2", "facecolor": "white",
                             "edgecolor": "none", "alpha": 0.85})  # fmt: skip
    note.set_gid("logrank")


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
        rows = rows_of(km_table, group, level).sort_values("time", kind="mergesort")
        table[level] = _numbers_at_risk(rows["time"].to_numpy(float), rows["n_risk"].to_numpy(), at)
    labels = {level: display(level, group_labels) for level in table} if group is not None else {}
    # Row labels end left of the half-width of the widest number centred on the first time;
    # labels too long for the margin (which would squeeze the plot) go above their row.
    digits = max(len(str(int(n))) for counts in table.values() for n in counts)
    first = ax.transData.transform((at[0], 0))[0] - ax.transAxes.transform((0, 0))[0]
    label_x = min(0.0, first * 72.0 / ax.figure.dpi - 0.32 * font * digits) - 10.0
    above = max((_text_points(ax, text, font) for text in labels.values()), default=0.0) > (
        _LEFT_LABEL_POINTS)
    offset = -top
    for level, counts in table.items():
        colour = colours[level]
        offset -= line
        if group is not None:
            label = ax.annotate(
                labels[level], xy=(0, 0), xycoords="axes fraction",
                xytext=(0 if above else label_x, offset), textcoords="offset points",
                ha="left" if above else "right", va="top", fontsize=font, color=colour,
                annotation_clip=False,
            )  # fmt: skip
            label.set_gid(f"at_risk_label:{level}")
            if above:
                offset -= line
        for t, n in zip(at, counts, strict=True):
            text = ax.annotate(
                f"{int(n)}", xy=(t, 0), xycoords=text_x, xytext=(0, offset),
                textcoords="offset points", ha="center", va="top", fontsize=font,
                color=colour, annotation_clip=False,
            )  # fmt: skip
            text.set_gid(f"at_risk:{level}")


_LEFT_LABEL_POINTS = 60.0  # wider row labels of the at-risk table go above their row


def _text_points(ax: Axes, text: str, font: float) -> float:
    """Width of ``text`` at ``font`` points, measured when possible, else estimated."""
    renderer = renderer_of(ax)
    if renderer is None:
        return 0.55 * font * len(text)
    from matplotlib.text import Text

    probe = Text(0, 0, text, fontsize=font, figure=ax.figure)
    return probe.get_window_extent(renderer).width * 72.0 / ax.figure.dpi


@formerly_positional("ax")
def plot_dynamic_survival(
    data: pd.DataFrame,
    *,
    ax: Axes | None = None,
    subject: str = "subject",
    ci_level: float | None = None,
    xlabel: str | None = None,
    ylabel: str = "Survival probability, given alive at last visit",
    palette: Mapping[str, str] | None = None,
    legend: bool = True,
    legend_kw: Mapping[str, Any] | None = None,
    figsize: tuple[float, float] | None = None,
) -> Axes:
    """Dynamic survival curves of a few patients, from a joint model's predictions.

    Each patient's curve starts at 1 at their last visit (a dotted vertical line), since
    they are known to be alive then, and follows the predicted conditional survival; the
    Monte Carlo band is shaded when the predictions carry one.

    Parameters
    ----------
    data : pandas.DataFrame
        As returned by :meth:`alsstats.JointResult.predict_survival`: columns ``subject``,
        ``time``, ``last_time``, ``survival`` and optionally ``lower``, ``upper`` (a Monte
        Carlo band). Not modified.
    ax : matplotlib.axes.Axes, optional, keyword-only
        Where to draw; a new figure is made when None.
    subject : str
        Subject column.
    ci_level : float, optional
        Level of the band (``predict_survival``'s ``ci_level``), for the legend.
    xlabel : str, optional
        Default ``"Time since baseline MRI (years)"``.
    ylabel : str
        Y axis label.
    palette : mapping, optional
        Subject -> colour (default: Okabe-Ito colours in order).
    legend : bool
        Legend above the axes: one entry per subject with the time of the last visit, then
        what the dotted line and the band are.
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
    >>> from alsstats.plotting import legend_texts
    >>> pred = pd.DataFrame({"subject": ["a", "a", "b", "b"], "time": [1.0, 2.0, 1.5, 2.0],
    ...                      "last_time": [0.5, 0.5, 1.0, 1.0],
    ...                      "survival": [0.9, 0.7, 0.95, 0.9]})
    >>> ax = plot_dynamic_survival(pred)
    >>> [line.get_gid() for line in ax.lines if line.get_gid().startswith("survival")]
    ['survival:a', 'survival:b']
    >>> legend_texts(ax)
    ['a (last visit at 0.50 years)', 'b (last visit at 1.00 years)', 'Last visit (dotted line)']
    """
    predictions = data
    caller = "plot_dynamic_survival"
    require_columns(predictions, [subject, "time", "last_time", "survival"], caller=caller,
                    table="predictions")
    require_numeric(predictions, ["time", "last_time", "survival"], caller=caller,
                    table="predictions")
    ax = new_axes(ax, figsize)
    levels = list(pd.unique(predictions[subject]))
    colours = group_colours([str(level) for level in levels], palette)
    band = {"lower", "upper"} <= set(predictions.columns)
    handles, labels = [], []
    for level in levels:
        rows = predictions.loc[(predictions[subject] == level).to_numpy()].sort_values("time")
        start = float(rows["last_time"].iloc[0])
        colour = colours[str(level)]
        x = np.concatenate([[start], rows["time"].to_numpy()])
        (line,) = ax.plot(x, np.concatenate([[1.0], rows["survival"].to_numpy()]), color=colour,
                          linewidth=1.8, gid=f"survival:{level}")  # fmt: skip
        if band:
            ax.fill_between(x, np.concatenate([[1.0], rows["lower"].to_numpy()]),
                            np.concatenate([[1.0], rows["upper"].to_numpy()]), color=colour,
                            alpha=0.2, linewidth=0, gid=f"band:{level}")  # fmt: skip
        ax.axvline(start, color=colour, linestyle=":", linewidth=1.0,
                   gid=f"last_visit:{level}")  # fmt: skip
        handles.append(line)
        labels.append(f"{level} (last visit at {start:.2f} years)")
    ax.set_ylim(0, 1.02)
    ax.set_xlabel(xlabel if xlabel is not None else axis_label("years"))
    ax.set_ylabel(ylabel)
    if legend:
        from matplotlib.lines import Line2D
        from matplotlib.patches import Patch

        keys: tuple[list, list[str]] = (
            [Line2D([], [], color=KEY_COLOUR, linestyle=":", linewidth=1.0)],
            ["Last visit (dotted line)"],
        )
        if band:
            keys[0].append(Patch(facecolor=KEY_COLOUR, alpha=0.3, linewidth=0))
            keys[1].append(f"{ci_text(ci_level)} (band, Monte Carlo)")
        draw_legend(ax, handles, labels, legend_kw, keys)
    return ax
