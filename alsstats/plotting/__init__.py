"""The papers' figures: trajectories, associations, Kaplan-Meier curves, forest plots.

Every function takes tidy DataFrames -- or the result object that carries them -- and a
keyword-only ``ax=``, draws, and returns the Axes (a new figure is made when ``ax`` is None).
Nothing here computes a statistic: model fits, confidence bands and survival curves arrive as
tables made elsewhere (:mod:`alsstats.analyses`, :mod:`alsstats.survival`); plotting only
sorts, selects and counts rows, and reads CI levels, labels and n off the results
(``plot_trajectories(wmh_progression(visits))``, ``plot_kaplan_meier(km, logrank=test)``,
``plot_forest(cox)``).

Modules: :mod:`~alsstats.plotting.style` (palette, labels, legends, panel letters, fonts),
:mod:`~alsstats.plotting.trajectories`, :mod:`~alsstats.plotting.association`,
:mod:`~alsstats.plotting.survival` (Kaplan-Meier; a joint model's dynamic survival),
:mod:`~alsstats.plotting.forest`.

The tables are plain DataFrames, so any source will do:

- the visit table (long; ``subject``, ``years``, ``group``, biomarker columns; ``DESIGN.md``);
- a fit band: columns ``<x>`` (e.g. ``years``), ``estimate``, ``ci_low``, ``ci_high`` and
  optionally a grouping column (``group``, ``survival_group``, ...);
- a Kaplan-Meier table: ``time``, ``n_risk``, ``n_event``, ``survival``, ``ci_low``, ``ci_high``,
  optionally ``n_censor`` and a grouping column (one row per distinct time, as R ``survfit``);
- a coefficient table: index ``term``; ``estimate``, ``ci_low``, ``ci_high``, optionally
  ``p_value`` and ``units``.

PDF output: save inside :func:`truetype_fonts` (``alsstats``' own writers do) so the fonts are
embedded as TrueType, as journals ask; it is not set globally on import.

Colours come from the Okabe-Ito palette (:data:`OKABE_ITO`), which stays distinguishable under
the common colour-vision deficiencies; :data:`PALETTE` fixes one colour per known group so a
group keeps its colour from figure to figure. Axis labels carry units (:data:`AXIS_LABELS`,
:func:`axis_label`).

Legends sit just above the axes so they never cover data: the groups with their n at the
left, and at the right (when both fit) the keys saying what a mark is -- line, band, thin
line, dot, tick (:func:`legend_texts` lists every entry). A figure title therefore belongs in
``fig.suptitle(...)`` (an ``ax.set_title`` would overlap the legend), or pass
``legend_kw={"loc": "upper left"}`` to put the legend back inside the axes. Several panels
in one figure: :func:`label_panels` letters them A, B, ...

``ax`` is keyword-only; passing it by position still works for one release with an
:class:`alsstats.AlsstatsDeprecationWarning`.

Every drawn artist carries a ``gid`` (``"subjects:ALS"``, ``"fit:ALS"``, ``"ci:ALS"``,
``"km:short"``, ``"at_risk:short"``, ``"whiskers"``, ...) so it can be found and restyled.
"""

from __future__ import annotations

from alsstats.plotting.association import plot_association
from alsstats.plotting.forest import plot_forest
from alsstats.plotting.style import (
    AXIS_LABELS,
    GROUP_LABELS,
    OKABE_ITO,
    PALETTE,
    axis_label,
    group_colours,
    label_panels,
    legend_texts,
    truetype_fonts,
)
from alsstats.plotting.survival import plot_dynamic_survival, plot_kaplan_meier
from alsstats.plotting.trajectories import plot_spaghetti, plot_trajectories

__all__ = [
    "AXIS_LABELS",
    "GROUP_LABELS",
    "OKABE_ITO",
    "PALETTE",
    "axis_label",
    "group_colours",
    "label_panels",
    "legend_texts",
    "plot_association",
    "plot_dynamic_survival",
    "plot_forest",
    "plot_kaplan_meier",
    "plot_spaghetti",
    "plot_trajectories",
    "truetype_fonts",
]
