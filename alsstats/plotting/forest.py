"""Forest plots: each term's estimate with its interval, the model and its n in the title."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from alsstats.errors import DataValidationError
from alsstats.formatting import format_p_value
from alsstats.plotting._common import (
    ci_level_of,
    formerly_positional,
    is_frame,
    new_axes,
)
from alsstats.plotting.style import OKABE_ITO, ci_text, renderer_of
from alsstats.validation import TableCheck, require_columns, require_numeric

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["plot_forest"]

_INTERCEPTS = ("Intercept", "(Intercept)")


def _format_interval(estimate: float, low: float, high: float) -> str:
    """``estimate (low, high)``, one number of decimals: three significant digits of the
    largest magnitude of the three (so a tiny estimate in a wide interval keeps few digits)."""
    scale = max((abs(v) for v in (estimate, low, high) if np.isfinite(v) and v != 0), default=1)
    decimals = min(6, max(0, 2 - math.floor(math.log10(scale))))

    def text(value: float) -> str:
        return f"{value:.{decimals}f}".replace("-", "\N{MINUS SIGN}") if np.isfinite(value) else "NA"

    return f"{text(estimate)} ({text(low)}, {text(high)})"


def _log_ticks(low: float, high: float, most: int = 7) -> list[float]:
    """Round tick values inside [low, high] for a log axis, as fine as ``most`` allows."""
    for mantissas in ((1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0),
                      (1.0, 1.5, 2.0, 3.0, 5.0, 7.0), (1.0, 2.0, 5.0), (1.0,)):
        values = sorted({round(m * 10.0**k, 6) for k in range(-4, 5) for m in mantissas})
        inside = [v for v in values if low <= v <= high]
        if len(inside) <= most:
            return inside
    return inside


@formerly_positional("ax")
def plot_forest(
    data: pd.DataFrame | Any,
    terms: Sequence[str] | None = None,
    *,
    ax: Axes | None = None,
    reference: float = 0.0,
    log_scale: bool | None = None,
    labels: Mapping[str, str] | None = None,
    xlabel: str | None = None,
    hazard_ratio: bool | None = None,
    ci_level: float | None = None,
    title: str | None = None,
    annotate: bool = True,
    colour: str = OKABE_ITO["black"],
    figsize: tuple[float, float] | None = None,
) -> Axes:
    """Forest plot: each term's estimate with its confidence interval, a reference line.

    Parameters
    ----------
    data : pandas.DataFrame or result
        A coefficient table: index ``term``; columns ``estimate``, ``ci_low``, ``ci_high``; optional ``p_value``
        (printed beside the interval) and ``units`` (put into the x label when one unit is
        shared by every term shown). Hazard ratios must come exponentiated. Not modified.
        Or a result: a :class:`alsstats.CoxResult` (drawn as hazard ratios, titled with the
        ties method, n and events), an :class:`alsstats.LMEResult` (titled with the
        estimation, visits and subjects) or an analysis result (its model's coefficients).
    terms : sequence of str, optional
        Terms to show, top to bottom; default every row in table order but the intercept
        (``Intercept`` / ``(Intercept)``), whose scale rarely shares an axis with the slopes.
    ax : matplotlib.axes.Axes, optional, keyword-only
        Where to draw; a new figure is made when None (height grows with the terms).
    reference : float
        Position of the dashed vertical reference line: 0 for differences and slopes, 1 for
        hazard or odds ratios.
    log_scale : bool, optional
        Log x axis; default True exactly when ``reference == 1``. Needs positive values.
    labels : mapping, optional
        Display text per term (default the term names, which follow R: ``groupALS:years``).
    xlabel : str, optional
        Default ``f"Hazard ratio ({ci_label})"`` when ``reference == 1``, else ``"Estimate
        (<units>; 95% CI)"`` from the ``units`` column, else ``"Estimate (outcome units per
        unit of the term; 95% CI)"`` (with the CI level of ``ci_level``).
    hazard_ratio : bool, optional
        Draw a Cox table's ``hazard_ratio``, ``hazard_ratio_ci_low`` and ``hazard_ratio_ci_high``
        (as :attr:`alsstats.CoxResult.coefficients` has them) instead of ``estimate``,
        ``ci_low``, ``ci_high``; the reference line moves to 1 on a log axis. Default: True
        for a Cox result, else False.
    ci_level : float, optional
        Level of the intervals, for the labels; default the result's, else 0.95.
    title : str, optional
        Title above the axes (left); default, for a result, the model with its n, e.g.
        ``"Cox model (Efron ties): n = 232, 150 events"``; none for a table.
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

    Notes
    -----
    Only the labelled ticks are drawn (no minor ticks on a log axis). Passing ``ax`` by
    position is deprecated.
    """
    result = None
    if is_frame(data):
        coefficients = data
    else:
        result = data
        coefficients, hazard_ratio, default_title = _from_result(result, hazard_ratio)
        title = default_title if title is None else title
    if ci_level is None:
        ci_level = ci_level_of(result, getattr(result, "model", None)) or 0.95
    ci_label = ci_text(ci_level)
    if hazard_ratio:
        ratio_columns = ["hazard_ratio", "hazard_ratio_ci_low", "hazard_ratio_ci_high"]
        require_columns(coefficients, ratio_columns, caller="plot_forest", table="coefficients")
        coefficients = coefficients.drop(columns=["estimate", "ci_low", "ci_high"],
                                         errors="ignore").rename(columns=dict(zip(
                                             ratio_columns, ["estimate", "ci_low", "ci_high"],
                                             strict=True)))
        reference = 1.0
    value_columns = ["estimate", "ci_low", "ci_high"]
    require_columns(coefficients, value_columns, caller="plot_forest", table="coefficients")
    require_numeric(coefficients, value_columns, caller="plot_forest", table="coefficients")
    if terms is None:
        terms = [t for t in coefficients.index if t not in _INTERCEPTS]
    else:
        terms = list(terms)
        missing = [t for t in terms if t not in coefficients.index]
        if missing:
            known = ", ".join(map(str, coefficients.index))
            raise DataValidationError([f"plot_forest: term {t!r} is not in coefficients "
                                       f"(its terms: {known})" for t in missing])
    rows = coefficients.loc[terms]
    if log_scale is None:
        log_scale = reference == 1
    if log_scale:
        check = TableCheck(rows, "plot_forest", table="coefficients")
        for column in value_columns:
            check.within(column, rows[column], low=0, low_open=True,
                         why=" (positive) on a log axis: hazard ratios, not log hazard ratios")
        check.raise_problems()
    values = rows[value_columns].to_numpy(float)
    n = len(terms)
    ax = new_axes(ax, figsize or (6.0, 1.2 + 0.42 * max(n, 1)))
    y = np.arange(n, dtype=float)[::-1]

    ax.axvline(reference, color="#888888", linestyle="--", linewidth=1.0, zorder=0,
               gid="reference")  # fmt: skip
    whiskers = ax.hlines(y, values[:, 1], values[:, 2], color=colour, linewidth=1.6, zorder=2)
    whiskers.set_gid("whiskers")
    (estimates,) = ax.plot(values[:, 0], y, linestyle="none", marker="s", markersize=6,
                           color=colour, zorder=3)  # fmt: skip
    estimates.set_gid("estimates")
    if log_scale:
        from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter, NullLocator

        ax.set_xscale("log")
        ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.xaxis.set_minor_locator(NullLocator())  # unlabelled minor ticks read as stray marks
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
            xlabel = f"Hazard ratio ({ci_label})"
        elif len(units) == 1:
            xlabel = f"Estimate ({units[0]}; {ci_label})"
        else:
            xlabel = f"Estimate (outcome units per unit of the term; {ci_label})"
    ax.set_xlabel(xlabel)
    if title:
        heading = ax.set_title(title, loc="left", fontsize="medium", pad=18 if annotate else 6)
        heading.set_gid("title")

    if annotate:
        header = f"Hazard ratio ({ci_label})" if reference == 1 else f"Estimate ({ci_label})"
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
        p_text = format_p_value(p, prefix="p") if np.isfinite(p) else ""
        p_note = ax.annotate(p_text, xy=(1, position), xycoords=where,
                             xytext=(p_offset, 0), textcoords="offset points", ha="left",
                             va="center", fontsize=font, annotation_clip=False)  # fmt: skip
        p_note.set_gid("p_text")


def _widest_points(ax: Axes, texts: list, font: float) -> float:
    """Width in points of the widest text, measured when the canvas can render, else guessed."""
    renderer = renderer_of(ax)
    if renderer is None:
        return 0.6 * font * max((len(t.get_text()) for t in texts), default=0)
    widths = [t.get_window_extent(renderer).width for t in texts]
    return max(widths, default=0.0) * 72.0 / ax.figure.dpi


def _from_result(result: Any, hazard_ratio: bool | None) -> tuple[pd.DataFrame, bool, str | None]:
    """A result's coefficient table, whether it holds hazard ratios, and a title naming the
    model and its n (read off the result, nothing computed)."""
    model = result
    coefficients = getattr(result, "coefficients", None)
    if not is_frame(coefficients):
        raise TypeError(
            "plot_forest takes a coefficient table or a result with a 'coefficients' table "
            f"(CoxResult, LMEResult, AnalysisResult); got {type(result).__name__}"
        )
    inner = getattr(result, "model", None)
    if inner is not None and hasattr(inner, "coefficients") and not hasattr(result, "ties"):
        model = inner
    is_cox = hasattr(model, "ties") and hasattr(model, "n_events")
    if hazard_ratio is None:
        hazard_ratio = is_cox and "hazard_ratio" in coefficients.columns
    title = None
    if is_cox:
        strata = getattr(model, "strata", None)
        title = (f"Cox model ({str(model.ties).capitalize()} ties"
                 + (f", strata {', '.join(strata)}" if strata else "")
                 + f"): n = {int(model.n):,}, {int(model.n_events):,} events")
        if getattr(model, "n_subjects", model.n) != model.n:
            title += f", {int(model.n_subjects):,} subjects"
    elif hasattr(model, "nobs") and hasattr(model, "n_groups"):
        estimation = getattr(model, "method", None)
        if isinstance(estimation, Mapping):
            estimation = estimation.get("estimation") or estimation.get("method")
        how = f" ({estimation})" if isinstance(estimation, str) else ""
        title = (f"Linear mixed model{how}: {int(model.nobs):,} visits, "
                 f"{int(model.n_groups):,} subjects")
    return coefficients, bool(hazard_ratio), title
