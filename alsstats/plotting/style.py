"""House style of the figures: palette, group and axis labels, legends, panel letters, fonts.

Colours come from the Okabe-Ito palette (:data:`OKABE_ITO`), which stays distinguishable under
the common colour-vision deficiencies; :data:`PALETTE` fixes one colour per known group so a
group keeps its colour from figure to figure. Axis labels carry units (:data:`AXIS_LABELS`,
:func:`axis_label`).
"""

from __future__ import annotations

import contextlib
import re
import string
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = [
    "AXIS_LABELS",
    "GROUP_LABELS",
    "OKABE_ITO",
    "PALETTE",
    "axis_label",
    "group_colours",
    "label_panels",
    "legend_texts",
    "truetype_fonts",
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
    "log_wmh_mm3": "log(1 + WMH volume in mm³)",
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
UNGROUPED_LINES = "#555555"
UNGROUPED_FIT = OKABE_ITO["black"]
KEY_COLOUR = "#4d4d4d"  # legend keys that explain a mark (line, band, point) rather than a group
DEFAULT_FIGSIZE = (5.5, 4.0)
# Journals ask for embedded TrueType (Type 42) fonts; matplotlib's default is Type 3.
_TRUETYPE_RC = {"pdf.fonttype": 42, "ps.fonttype": 42}


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


@contextlib.contextmanager
def truetype_fonts() -> Iterator[None]:
    """Within the block, PDF and PostScript output embed TrueType (Type 42) fonts.

    Journals ask for it (matplotlib's default, Type 3, is refused by some typesetting
    systems and cannot be edited). Only saving needs it, so it is set around a save, never
    globally on import.

    Examples
    --------
    >>> import io, matplotlib.figure
    >>> figure = matplotlib.figure.Figure()
    >>> _ = figure.subplots().set_title("WMH")
    >>> buffer = io.BytesIO()
    >>> with truetype_fonts():
    ...     figure.savefig(buffer, format="pdf")
    >>> b"/FontFile2" in buffer.getvalue(), b"/Type3" in buffer.getvalue()  # TrueType outlines
    (True, False)
    """
    import matplotlib as mpl

    with mpl.rc_context(_TRUETYPE_RC):
        yield


def label_panels(
    axes: Iterable[Axes] | Any,
    letters: Sequence[str] | None = None,
    *,
    fontsize: float | None = None,
) -> list:
    """Bold panel letters (A, B, C, ...) at the top left of each Axes, outside the data area.

    Parameters
    ----------
    axes : Axes or iterable of Axes
        The panels in reading order (a NumPy array from ``subplots`` is flattened).
    letters : sequence of str, optional
        Default ``"A"``, ``"B"``, ...
    fontsize : float, optional
        Default: one and a third times the axis-label size.

    Returns
    -------
    list of matplotlib.text.Annotation
        One per panel, gid ``panel_letter``.

    Examples
    --------
    >>> import matplotlib.figure
    >>> axes = matplotlib.figure.Figure().subplots(1, 2)
    >>> [t.get_text() for t in label_panels(axes)]
    ['A', 'B']
    """
    import matplotlib as mpl
    import numpy as np
    from matplotlib.font_manager import FontProperties

    panels = list(np.ravel(np.asarray(axes, dtype=object)))
    letters = list(letters) if letters is not None else list(string.ascii_uppercase)
    if len(letters) < len(panels):
        raise ValueError(f"{len(panels)} panels but only {len(letters)} letters")
    if fontsize is None:
        base = FontProperties(size=mpl.rcParams["axes.labelsize"]).get_size_in_points()
        fontsize = round(base * 4 / 3, 1)
    out = []
    def legends_above(ax: Any) -> list:
        found = [legend for legend in (ax.get_legend(), *[
            a for a in ax.artists if a.get_gid() == "legend_keys"]) if legend is not None]
        return [legend for legend in found if not _inside_axes(legend)]

    # Panels in one row of the grid share the height of their letters: the top of the
    # tallest legend above any of them (the legend with most rows), else the top of the axes.
    rows: dict[float, list] = {}
    for ax in panels:
        rows.setdefault(round(ax.get_position().y1, 3), []).extend(legends_above(ax))
    for ax, letter in zip(panels, letters, strict=False):
        # Left of the y tick labels and the y label, level with the top of the panel.
        above = rows[round(ax.get_position().y1, 3)]
        top: Any = "axes fraction"
        if above:
            top = max(above, key=lambda legend: len(legend.get_texts()))
        text = ax.annotate(
            letter, xy=(0, 1), xycoords=("axes fraction", top), xytext=(-4.2 * fontsize, 0),
            textcoords="offset points", ha="left", va="top" if top != "axes fraction" else
            "bottom", fontsize=fontsize, fontweight="bold", annotation_clip=False,
        )  # fmt: skip
        text.set_gid("panel_letter")
        out.append(text)
    return out


def _inside_axes(legend: Any) -> bool:
    anchor = legend.get_bbox_to_anchor()
    return bool(anchor.bounds == legend.axes.bbox.bounds)


# --------------------------------------------------------------------------------------------
# helpers shared by the figure modules (no statistics)


def display(level: Any, group_labels: Mapping[str, str] | None) -> str:
    labels = {**GROUP_LABELS, **(group_labels or {})}
    return labels.get(str(level), str(level))


def legend_text(level: Any, counts: Mapping, group_labels: Mapping[str, str] | None,
                unit: str = "") -> str:
    text = display(level, group_labels) if level is not None else "All subjects"
    n = counts.get(level)
    return text if n is None else f"{text} (n = {n:,}{unit})"


def ci_text(ci_level: float | None) -> str:
    """``"95% CI"`` for 0.95; ``"CI"`` when the level is not known."""
    if ci_level is None:
        return "CI"
    percent = 100 * float(ci_level)
    return f"{percent:.0f}% CI" if abs(percent - round(percent)) < 1e-9 else f"{percent:g}% CI"


def line_key(colour: str = KEY_COLOUR, *, linewidth: float = 1.5, alpha: float = 1.0) -> Any:
    from matplotlib.lines import Line2D

    return Line2D([], [], color=colour, linewidth=linewidth, alpha=alpha)


def point_key(colour: str = KEY_COLOUR, *, alpha: float = 1.0, size: float = 5.0) -> Any:
    from matplotlib.lines import Line2D

    return Line2D([], [], linestyle="none", marker="o", markersize=size, color=colour,
                  markeredgewidth=0, alpha=alpha)  # fmt: skip


def band_line_key(colour: str = KEY_COLOUR, *, band_alpha: float = 0.25) -> tuple:
    """A legend key of a line over its shaded band (drawn as one entry)."""
    from matplotlib.patches import Patch

    return (Patch(facecolor=colour, alpha=band_alpha, linewidth=0), line_key(colour, linewidth=2.2))


def draw_legend(
    ax: Axes,
    handles: list,
    labels: list[str],
    legend_kw: Mapping | None,
    keys: tuple[list, list[str]] | None = None,
) -> None:
    """Frameless legends above the axes, where they cannot hide data.

    ``handles``/``labels`` name the groups; ``keys`` say what the marks are (line, band,
    thin lines, dots). When both fit side by side, the groups stand in one column at the left
    and the keys in one column at the right (gid ``legend_keys``, found through
    :func:`legend_texts`); otherwise one legend holds both, in as many columns as fit.
    """
    key_handles, key_labels = keys if keys is not None else ([], [])
    if not handles:
        handles, labels, key_handles, key_labels = list(key_handles), list(key_labels), [], []
    if not handles:
        return
    from matplotlib.legend import Legend
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
    inside = bool(legend_kw and "loc" in legend_kw and "bbox_to_anchor" not in legend_kw)
    if inside:
        del options["bbox_to_anchor"]  # a caller's own position is inside the axes
    options.update(legend_kw or {})
    both = (list(handles) + list(key_handles), list(labels) + list(key_labels))
    renderer = renderer_of(ax)
    if "ncol" in options or "ncols" in options or inside or renderer is None:
        ncol = {} if "ncol" in options or "ncols" in options or renderer is not None else {
            "ncol": 1}
        ax.legend(*both, **options, **ncol)
        return
    room = _laid_out_width(ax, renderer)
    if key_handles:
        groups = ax.legend(handles, labels, ncol=1, **options)
        key_options = {**options, "loc": "lower right", "bbox_to_anchor": (1.0, 1.01)}
        key_legend = Legend(ax, key_handles, key_labels, ncol=1, **key_options)
        width = (groups.get_window_extent(renderer).width
                 + key_legend.get_window_extent(renderer).width)
        if width + 12 <= room:
            key_legend.set_gid("legend_keys")
            ax.add_artist(key_legend)
            # add_artist clips to the axes, which would leave the legend out of layouts
            # and tight bounding boxes (and so cut off); it lives outside the axes.
            key_legend.set_clip_on(False)
            return
    for ncol in range(len(both[0]), 0, -1):
        legend = ax.legend(*both, ncol=ncol, **options)
        if legend.get_window_extent(renderer).width <= room:
            break


def _laid_out_width(ax: Axes, renderer: Any) -> float:
    """Width of the axes once the figure's layout engine has made room for what is drawn so
    far (e.g. the numbers-at-risk labels), so that legends are fitted to the final width."""
    engine = getattr(ax.figure, "get_layout_engine", lambda: None)()
    if engine is not None:
        try:
            engine.execute(ax.figure)
        except Exception:  # noqa: BLE001 -- the layout is redone when saving anyway
            pass
    return float(ax.get_window_extent(renderer).width)


def legend_texts(ax: Axes) -> list[str]:
    """Every legend entry of ``ax``: the group legend, then the keys legend beside it."""
    legends = [ax.get_legend()] + [a for a in ax.artists if a.get_gid() == "legend_keys"]
    return [t.get_text() for legend in legends if legend is not None
            for t in legend.get_texts()]


def renderer_of(ax: Axes) -> Any:
    """A renderer to measure text with, or None when the figure cannot give one."""
    figure = ax.figure
    try:
        return figure.canvas.get_renderer()
    except AttributeError:  # a bare Figure (no pyplot): it still lends an Agg renderer
        getter = getattr(figure, "_get_renderer", None)
        try:
            return getter() if getter is not None else None
        except Exception:  # noqa: BLE001 -- measuring is optional; fall back to one column
            return None
