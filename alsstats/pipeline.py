"""``alsstats reproduce``: every analysis a visit table allows, to figures, tables and a report.

The table is validated and the output folder checked before anything is written; everything is
built in a hidden temporary folder beside ``out`` and moved in only when the run has finished.
A run never removes or overwrites a file it did not create (see :mod:`alsstats._outfolder`).
An analysis the table cannot support (no deaths yet, one group, ...) is skipped and said so,
on the console, in a :class:`~alsstats.SkippedAnalysisWarning` and in the report; the others run.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from alsstats import __version__, analyses
from alsstats._outfolder import (
    check_output_folder,
    printable,
    publish,
    safe_file_stem,
    sibling_folder,
)
from alsstats._stack import user_stacklevel
from alsstats.data import read_visits, validate_visits
from alsstats.errors import (
    DataValidationError,
    FormulaError,
    SkippedAnalysisWarning,
)
from alsstats.report import (
    AnalysisStatus,
    ModelCheck,
    ReportFigure,
    ReportSection,
    ReportTable,
    atomic_write_bytes,
    save_figure,
    write_report,
    write_table,
)
from alsstats.results import AnalysisResult

__all__ = ["reproduce"]

WMH_PER = 1000.0
"""Cox models report hazard ratios per this many mm3 of WMH."""


@dataclass
class _Run:
    """Collects what each step produces, in order."""

    folder: Path
    log: Callable[[str], None]
    cutoff_months: float = 24.0
    ci_level: float = 0.95
    sections: list[ReportSection] = field(default_factory=list)
    headline: list[pd.DataFrame] = field(default_factory=list)
    excluded: list[pd.DataFrame] = field(default_factory=list)
    methods: list[str] = field(default_factory=list)
    checks: list[ModelCheck] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    absent: list[tuple[str, str]] = field(default_factory=list)
    written: list[Path] = field(default_factory=list)
    stems: dict[str, set[str]] = field(default_factory=dict)
    ci_levels: set[float] = field(default_factory=set)
    mixed_models: list[dict[str, Any]] = field(default_factory=list)
    model_summaries: list[tuple[str, Any]] = field(default_factory=list)
    label: str = ""

    def _path(self, kind: str, name: str, suffix: str = "") -> Path:
        """``folder/kind/<name made safe>``: names come from data (column names), so they are
        made plain file names, collisions get a suffix, and the result must stay inside."""
        stem = safe_file_stem(name, self.stems.setdefault(kind, set()))
        path = self.folder / kind / stem
        if path.parent.resolve() != (self.folder / kind).resolve():  # defence in depth
            raise RuntimeError(f"output name {name!r} escapes the output folder")
        return path

    def table(self, name: str, frame: pd.DataFrame) -> pd.DataFrame:
        path = self._path("tables", name)
        self.written.append(write_table(frame, path.with_name(path.name + ".csv")))
        return frame

    def figure(self, name: str, draw: Callable[[Any], Any], caption: str,
               size=(6.4, 4.6)) -> ReportFigure:
        # A bare Figure, not pyplot: no GUI backend, no global figure state to leak in a
        # notebook session, nothing to close.
        from matplotlib.figure import Figure

        figure = Figure(figsize=size, layout="constrained")
        draw(figure.subplots())
        paths = save_figure(figure, self._path("figures", name))
        self.written += paths
        return ReportFigure(paths[0], caption)

    def record(self, result: AnalysisResult) -> None:
        if hasattr(result.model, "df_method"):
            self.mixed_models.append(result.method)
        self.headline.append(result.effect.reset_index().assign(
            analysis=result.name, label=self.label))
        if len(result.excluded):
            self.excluded.append(result.excluded.assign(analysis=result.name, label=self.label))
        self.table(f"{result.name}_coefficients", result.coefficients)
        self.methods.append(_method_sentence(self.label, result.method))
        if _ci_level(result) is not None:
            self.ci_levels.add(_ci_level(result))
        models = [("", result.model)] + [
            (f" ({key.replace('_', ' ')})", value) for key, value in result.extra.items()
            if hasattr(value, "singular") and hasattr(value, "converged")]
        for suffix, model in models:
            if callable(getattr(model, "summary", None)):
                self.model_summaries.append((f"{self.label}{suffix}", model.summary()))
            if hasattr(model, "singular") and model.singular:
                self.checks.append(ModelCheck(
                    f"{self.label}{suffix}", "boundary (singular) fit",
                    f"{model.formula}: a random-effect variance is estimated as 0 (or a "
                    "correlation as ±1); the fixed effects stand, but that random term "
                    "could be dropped", ok=False))
            if hasattr(model, "converged") and not model.converged:
                self.checks.append(ModelCheck(
                    f"{self.label}{suffix}", "convergence",
                    f"{model.formula}: the optimiser's convergence check failed; treat the "
                    "estimates with caution", ok=False))

    def checkpoint(self) -> dict[str, Any]:
        return {name: len(getattr(self, name)) for name in
                ("sections", "headline", "excluded", "methods", "checks", "written",
                 "mixed_models")} | {
            "stems": {kind: set(taken) for kind, taken in self.stems.items()}}

    def roll_back(self, checkpoint: dict[str, Any]) -> None:
        """Forget (and delete) what a step that could not finish had produced."""
        for path in self.written[checkpoint["written"]:]:
            path.unlink(missing_ok=True)
        for name, length in checkpoint.items():
            if name != "stems":
                del getattr(self, name)[length:]
        self.stems = checkpoint["stems"]


_METHOD_WORDS = {
    "formula": "model", "estimation": "estimation", "df_method": "degrees of freedom",
    "ci": "confidence intervals", "population": "population", "n_observations": "visits",
    "n_subjects": "subjects", "n_events": "events", "cutoff_months": "survival cut-off (months)",
    "unclassified_subjects": "unclassified patients", "per": "per (mm3 of WMH)",
    "response_transform": "response transform", "ties": "ties",
    "survival_groups": "survival groups at the cut-off", "kaplan_meier": "Kaplan-Meier",
    "km_groups": "Kaplan-Meier groups", "logrank": "test of the curves",
    "proportional_hazards": "proportional hazards checked by",
    "time_varying": "time-varying Cox intervals", "wmh_per": "hazard ratios per (mm3 of WMH)",
    "n_patients": "patients", "survival_group_formula": "model by survival group",
}
_METHOD_SKIPPED = {"ci_level"}  # stated in words by "ci"


def _mixed_models_text(methods: list[dict[str, Any]]) -> str:
    """The paragraph on the mixed-model engine, with the df methods and intervals the
    mixed-model results record."""
    df_methods = ", ".join(dict.fromkeys(str(m.get("df_method")) for m in methods))
    intervals = ", ".join(dict.fromkeys(str(m.get("ci")) for m in methods))
    estimation = ", ".join(dict.fromkeys(str(m.get("estimation")) for m in methods))
    return (
        "Mixed models: fitted with alsstats' profiled-deviance engine (lme4's formulation, "
        f"BOBYQA then Newton steps on the exact gradient) by {estimation}; t-tests with "
        f"{df_methods} degrees of freedom and {intervals} intervals, as lmerTest's summary. "
        "Figure lines are cohort-average predictions (design rows averaged over the subjects' "
        "covariates) with pointwise intervals. Each analysis below lists its formula, "
        "estimation, degrees of freedom, interval and population, as its result records them."
    )


def _method_sentence(label: str, method: dict[str, Any]) -> str:
    """One line of the methods text, from a result's ``method`` dict (nothing hard-coded)."""
    def value(v: Any) -> str:
        if isinstance(v, dict):
            return "; ".join(f"{k}: {value(x)}" for k, x in v.items())
        if isinstance(v, float):
            return f"{v:g}"
        return str(v)

    parts = [f"{_METHOD_WORDS.get(k, k.replace('_', ' '))}: {value(v)}"
             for k, v in method.items() if k not in _METHOD_SKIPPED]
    return f"{label[:1].upper() + label[1:]} — " + "; ".join(parts) + "."


def _ci_level(result: AnalysisResult) -> float | None:
    return getattr(result.model, "ci_level", None)


def _n_text(result: AnalysisResult) -> str:
    counts = result.counts
    parts = [f"{row.group}: {int(row.n_subjects)} subjects, {int(row.n_visits)} visits"
             for row in counts.itertuples()]
    return "; ".join(parts)


def _has(visits: pd.DataFrame, *columns: str) -> bool:
    return all(c in visits.columns and visits[c].notna().any() for c in columns)


def _sentence(row: pd.Series, what: str, ci_level: float | None) -> str:
    from alsstats.formatting import format_ci, format_estimate, format_number

    units = str(row.units).replace("mm3", "mm³")
    level = f"{ci_level:.0%} " if ci_level is not None else ""
    return (f"{what}: {format_estimate(row.estimate, row.std_error)} {units} ({level}CI "
            f"{format_ci(row.ci_low, row.ci_high, row.std_error, row.estimate)}; "
            f"t = {format_number(row.statistic, 2)} on {format_number(row.df, 1)} df; "
            f"{_p(row.p_value)}).")


def _p(p_value: float) -> str:
    """``p < 0.001`` or ``p = 0.052`` for prose (the one formatter underneath)."""
    from alsstats.formatting import format_p_value

    text = format_p_value(p_value)
    return f"p {text}" if text.startswith("<") else f"p = {text}"


def _band_words(result: AnalysisResult) -> str:
    level = _ci_level(result)
    return (f"shaded band: its pointwise {level:.0%} confidence interval" if level is not None
            else "shaded band: its pointwise confidence interval")


def _trajectory_caption(result: AnalysisResult, y_words: str, by_words: str) -> str:
    return (f"{y_words} against years since the baseline MRI, by {by_words}. Thick line: the "
            f"mixed model's cohort-average fit ({result.method['formula']}, "
            f"{result.method['estimation']}); {_band_words(result)}; thin faint lines: one "
            f"subject's observed visits each. n = {_n_text(result)}.")


def _trajectory_section(run: _Run, result: AnalysisResult, group: str, figure_name: str,
                        title: str, what: str, caption: str, note: str = "") -> None:
    from alsstats.plotting import plot_trajectories

    run.record(result)
    figure = run.figure(figure_name, lambda ax: plot_trajectories(
        result, y="wmh_mm3", by=group, ax=ax), caption)
    run.sections.append(ReportSection(
        title, _sentence(result.effect.iloc[0], what, _ci_level(result)) + note, [figure],
        {"Subjects and visits": result.counts,
         "Coefficients": ReportTable(result.coefficients, _ci_level(result), "mm³")}))


def _wmh(run: _Run, visits: pd.DataFrame) -> None:
    result = analyses.wmh_progression(visits, ci_level=run.ci_level)
    _trajectory_section(run, result, "group", "fig2a_wmh_als_vs_control",
                        "WMH progression, ALS vs controls (paper's Figure 2A)",
                        "ALS minus control WMH rate",
                        _trajectory_caption(result, "WMH volume (mm³)", "diagnosis"))


def _survival_groups(run: _Run, visits: pd.DataFrame) -> None:
    result = analyses.survival_group_progression(visits, cutoff_months=run.cutoff_months,
                                                 ci_level=run.ci_level)
    cutoff = result.method["cutoff_months"]
    _trajectory_section(
        run, result, "survival_group", "fig2b_wmh_short_vs_long",
        "WMH progression, short vs long survivors (paper's Figure 2B)",
        "Short minus long survivors' WMH rate",
        _trajectory_caption(result, "WMH volume (mm³) in ALS patients",
                            f"survival group (short: event at or before {cutoff:g} months "
                            f"from the baseline MRI; long: followed beyond {cutoff:g} months)"),
        f" {result.method['unclassified_subjects']} ALS subject(s) could not be classified "
        "(listed under Excluded subjects).")


def _joint(run: _Run, visits: pd.DataFrame) -> None:
    import math

    from alsstats.plotting import plot_dynamic_survival

    result = analyses.wmh_survival_joint(visits, ci_level=run.ci_level)
    run.record(result)
    run.table("wmh_survival_joint_survival", result.model.survival)
    level = result.model.method.get("ci_level")
    figure = run.figure("fig_joint_dynamic_survival", lambda ax: plot_dynamic_survival(
        result.extra["dynamic_survival"], ax=ax),
        "Dynamic survival predictions of the joint model of WMH and survival "
        f"({result.method['estimation']}; n = {result.method['n_subjects']} ALS subjects, "
        f"{result.method['n_events']} events) for three patients (slowest, median and fastest "
        "WMH rate): each curve starts at the patient's last visit; the band is the Monte "
        "Carlo interval of the prediction.")
    value = result.effect.loc["value"]
    per = "1000 mm³"
    run.sections.append(ReportSection(
        f"Joint model: WMH and survival without the {run.cutoff_months:g}-month split",
        f"Hazard ratio of death per {per} of current WMH: {math.exp(value.estimate):.2f} "
        f"({level:.0%} CI {math.exp(value.ci_low):.2f} to {math.exp(value.ci_high):.2f}; "
        f"{_p(value.p_value)}). {result.extra['comparison']} Unlike the "
        "short/long split, which leaves out patients censored before the cut-off and groups "
        "patients by an outcome seen after their scans, the joint model keeps every patient "
        "and lets death and WMH depend on the same latent trajectory.",
        [figure], {"Event process (log hazard ratios)": ReportTable(
                       result.model.survival, level, statistic="z"),
                   "Longitudinal process (WMH, cm³)": ReportTable(
                       result.model.longitudinal, level, "cm³", statistic="z")}))


def _alsfrs(run: _Run, visits: pd.DataFrame, with_groups: bool) -> None:
    from alsstats.formatting import format_ci, format_estimate
    from alsstats.plotting import plot_association

    result = analyses.alsfrs_vs_wmh(
        visits, cutoff_months=run.cutoff_months if with_groups else None, ci_level=run.ci_level)
    run.record(result)
    level = _ci_level(result)
    caption = (f"ALSFRS-R against WMH volume at the same visit in ALS patients; one point per "
               f"visit. Line: the mixed model's fit ({result.method['formula']}); "
               f"{_band_words(result)}. n = {_n_text(result)}.")
    figures = [run.figure("fig3a_alsfrs_vs_wmh", lambda ax: plot_association(
        result, x="wmh_mm3", y="alsfrs_r", ax=ax), caption)]
    tables: dict[str, Any] = {"Coefficients": ReportTable(result.coefficients, level, "points")}
    if "by_survival_group_not_fitted" in result.extra:
        run.skipped.append(("ALSFRS-R vs WMH by survival group",
                            result.extra["by_survival_group_not_fitted"]))
    if "by_survival_group" in result.extra:
        model = result.extra["by_survival_group"]
        figures.append(run.figure("fig3b_alsfrs_vs_wmh_by_survival", lambda ax: plot_association(
            result.extra["group_data"], x="wmh_mm3", y="alsfrs_r", by="survival_group",
            fit=result.extra["group_fit"], ci_level=model.ci_level, ax=ax),
            "ALSFRS-R against WMH volume by survival group; one point per visit, coloured by "
            f"group. Lines: the mixed model's fit in each group ({model.formula}); "
            f"shaded bands: pointwise {model.ci_level:.0%} confidence intervals. "
            f"n = {model.n_groups} subjects, {model.nobs} visits."))
        tables["Slope in each survival group"] = ReportTable(
            result.extra["group_slopes"], level)
        run.table("alsfrs_vs_wmh_by_survival_group_coefficients", model.coefficients)
    row = result.effect.loc["wmh_mm3"]
    run.sections.append(ReportSection(
        "ALSFRS-R and WMH (paper's Figure 3)",
        f"ALSFRS-R change per {result.method['per']:g} mm³ of WMH: "
        f"{format_estimate(row.estimate, row.std_error)} points ({level:.0%} CI "
        f"{format_ci(row.ci_low, row.ci_high, row.std_error, row.estimate)}; "
        f"{_p(row.p_value)}).",
        figures, tables))


def _survival(run: _Run, visits: pd.DataFrame) -> None:
    from alsstats.plotting import OKABE_ITO, plot_forest, plot_kaplan_meier

    result = analyses.survival_analysis(visits, cutoff_months=run.cutoff_months,
                                        ci_level=run.ci_level, wmh_per=WMH_PER)
    run.record(result)
    method, extra = result.method, result.extra
    km, logrank, zph = extra["kaplan_meier"], extra["logrank"], extra["proportional_hazards"]
    time_varying = extra["cox_time_varying"]
    ties = method["ties"]
    other_ties = "breslow" if ties == "efron" else "efron"
    other = extra[f"cox_{other_ties}"]
    level = method["ci_level"]
    covariate = f"wmh_per_{method['wmh_per']:g}"
    n, events, median = method["n_subjects"], method["n_events"], extra["median_wmh"]
    n_patients = method["n_patients"]
    run.table("km_survival_by_baseline_wmh", km.table)
    run.table("km_median_by_baseline_wmh", km.median)
    run.table("logrank_baseline_wmh", logrank.table.assign(
        chisq=logrank.statistic, df=logrank.df, p_value=logrank.p_value))
    run.table(f"cox_{ties}", result.coefficients)
    run.table(f"cox_{other_ties}", other.coefficients)
    run.table("cox_time_varying", time_varying.coefficients)
    run.table("cox_zph", zph)
    km_figure = run.figure("km_by_baseline_wmh", lambda ax: plot_kaplan_meier(
        km, logrank=logrank, ax=ax,
        group_labels={"low": "WMH at or below median", "high": "WMH above median"},
        palette={"low": OKABE_ITO["blue"], "high": OKABE_ITO["vermillion"]}),
        f"Kaplan-Meier survival from the baseline MRI of {n} ALS patients "
        f"({events} events) by baseline WMH (\"WMH above median\": above the ALS median "
        f"of {median:,.0f} mm³; \"WMH at or below median\": at or below it; n per group in "
        "the legend). "
        f"Steps: Kaplan-Meier estimates; shaded bands: {method['kaplan_meier']}; ticks: "
        "censoring times; numbers at risk under the axis; top right: "
        f"{method['logrank']} (chi-square {logrank.statistic:.2f} on {logrank.df} df, "
        f"{_p(logrank.p_value)}).",
        size=(6.4, 5.2))
    forest = run.figure("forest_cox", lambda ax: plot_forest(
        result.model, ax=ax,
        labels={covariate: f"WMH (per {method['wmh_per']:g} mm³)", "age": "Age (per year)",
                "sexM": "Male sex"}),
        f"Hazard ratios of death from the Cox model {method['formula']} "
        f"({ties} ties; n = {n} ALS patients, {events} events; as in the title). Point: "
        f"hazard ratio; line: its {level:.0%} Wald confidence interval, printed on the right "
        "with the p-value; dashed line: no effect (hazard ratio 1).", size=(6.4, 3.2))
    model_name = f"Cox model ({ties.capitalize()} ties)"
    for row in zph.itertuples():
        name = "global test" if row.term == "GLOBAL" else row.term
        violated = row.p_value < 0.05
        run.checks.append(ModelCheck(
            model_name, f"proportional hazards, {name}",
            (f"scaled Schoenfeld residual test chi-square {row.statistic:.2f} on "
             f"{row.df:g} df, {_p(row.p_value)}: "
             + ("the hazard ratio appears to change over follow-up, so the single hazard "
                "ratio is an average over time; consider a time-varying effect or "
                "stratification" if violated else
                "no evidence that the hazard ratio changes over follow-up")),
            ok=not violated))
    run.sections.append(ReportSection(
        "Survival from the baseline MRI",
        f"{n} of {n_patients} ALS subjects ({events} events); "
        f"{n_patients - n} left out (listed under Excluded subjects). "
        f"Survival groups at {method['cutoff_months']:g} months: {method['survival_groups']}. "
        f"Kaplan-Meier by baseline WMH: high = above the ALS median ({median:,.0f} mm³), low = "
        "at or below it; "
        f"log-rank chi-square {logrank.statistic:.2f} on {logrank.df} df, "
        f"{_p(logrank.p_value)}. {model_name} concordance {result.model.concordance:.3f}. "
        "Proportional-hazards checks are under Model checks.",
        [km_figure, forest],
        {"Median survival (months)": km.median,
         f"Cox, {ties.capitalize()} ties (log hazard ratios)": ReportTable(
             result.coefficients, level, statistic="z"),
         f"Cox, {other_ties.capitalize()} ties (log hazard ratios)": ReportTable(
             other.coefficients, level, statistic="z"),
         "Cox with WMH as a time-varying covariate (log hazard ratios)": ReportTable(
             time_varying.coefficients, level, statistic="z"),
         "Proportional hazards (scaled Schoenfeld residuals)": zph}))


def _flair_roi(run: _Run, visits: pd.DataFrame, roi: str, done: list[str]) -> None:
    from alsstats.plotting import plot_trajectories

    result = analyses.flair_progression(visits, roi=roi, ci_level=run.ci_level)
    run.record(result)
    level = _ci_level(result)
    figures = [run.figure(f"{roi}_als_vs_control", lambda ax: plot_trajectories(
        result, y=roi, by="group", ax=ax),
        _trajectory_caption(result, f"Normalised FLAIR intensity ({roi})", "diagnosis"))]
    if "phenotype_model" in result.extra:
        model = result.extra["phenotype_model"]
        figures.append(run.figure(f"{roi}_by_phenotype", lambda ax: plot_trajectories(
            result.extra["phenotype_data"], y=roi, by="phenotype",
            fit=result.extra["phenotype_fit"], ci_level=model.ci_level, ax=ax),
            f"Normalised FLAIR intensity ({roi}) against years since the baseline MRI in ALS "
            f"patients, by phenotype. Thick lines: the mixed model's cohort-average fit "
            f"({model.formula}); shaded bands: pointwise {model.ci_level:.0%} confidence "
            f"intervals; thin faint lines: one subject's observed visits each. "
            f"n = {model.n_groups} subjects, {model.nobs} visits."))
        run.table(f"{roi}_phenotype_coefficients", model.coefficients)
    run.sections.append(ReportSection(
        f"Quantitative FLAIR: {roi}", "", figures,
        {"Effects": ReportTable(result.effect, level)}))
    done.append(roi)


def _flair_association(run: _Run, visits: pd.DataFrame, rois: list[str]) -> None:
    if not rois:
        raise DataValidationError("no qFLAIR column could be analysed (see the skipped analyses)")
    association = analyses.flair_vs_alsfrs(visits, roi=rois[0], ci_level=run.ci_level)
    run.record(association)
    run.sections.append(ReportSection(
        f"Rate of {rois[0]} change vs clinical decline", association.method["formula"], [],
        {"Associations": ReportTable(association.effect, _ci_level(association))}))


def _model_summaries_section(run: _Run) -> list[ReportSection]:
    """Every model's ``summary()`` (mixed models in lmerTest's layout), collapsed: what a
    reviewer checks against R."""
    if not run.model_summaries:
        return []
    return [ReportSection(
        "Full model summaries",
        "Each model underneath an analysis as its summary() shows it: estimation, fit "
        "statistics, variance components and every coefficient; click a model to open it "
        "(full-precision numbers are in tables/*.csv).",
        details=list(run.model_summaries))]


def _phenotype_classifier(run: _Run, visits: pd.DataFrame, rois: list[str]) -> None:
    if not rois:
        raise DataValidationError("no qFLAIR column could be analysed (see the skipped analyses)")
    classifier = analyses.phenotype_classifier(visits, rois=rois, ci_level=run.ci_level)
    run.record(classifier)
    run.sections.append(ReportSection(
        "Phenotype classification: does qFLAIR add to ALSFRS-R slope and UMN score?",
        f"{classifier.method['cross_validation']}; intervals: {classifier.method['ci']}.", [],
        {"Out-of-fold accuracy": ReportTable(classifier.effect, statistic="statistic"),
         "Subjects": classifier.counts}))


_SURVIVAL = ("survival_months", "event")


def _steps(run: _Run, visits: pd.DataFrame) -> tuple[list[tuple[str, Callable[[], None]]],
                                                      list[tuple[str, str, bool]]]:
    """Every analysis ``reproduce`` knows, in report order: those this table allows, and
    those it does not with the reason and whether the table has the columns (a missing
    column reads "needs column X"; present columns whose values cannot support the analysis
    are also warned about)."""
    steps: list[tuple[str, Callable[[], None]]] = []
    skipped: list[tuple[str, str, bool]] = []
    columns = set(map(str, visits.columns))

    def needs(*names: str) -> str | None:
        missing = [n for n in names if n not in columns]
        if not missing:
            return None
        return (f"needs column{'s' if len(missing) > 1 else ''} "
                f"{', '.join(missing)} (not in the table)")

    def plan(label: str, reason: str | None, step: Callable[[], None],
             missing: str | None = None) -> None:
        if missing is not None:
            skipped.append((label, missing, False))
        elif reason is None:
            steps.append((label, step))
        else:
            skipped.append((label, reason, True))

    groups = sorted(set(visits["group"].dropna().astype(str)))
    one_group = (None if groups == ["ALS", "control"] else
                 f"column 'group' holds only {' and '.join(groups) or 'no'} subjects; "
                 "the comparison needs ALS and control subjects")
    als = (visits["group"] == "ALS").to_numpy()
    if needs(*_SURVIVAL):
        no_survival = needs(*_SURVIVAL)
    elif not als.any():
        no_survival = "no ALS subjects"
    elif not _has(visits[als], *_SURVIVAL):
        no_survival = "columns 'survival_months' and 'event' hold no values in ALS subjects"
    else:
        no_survival = None
    has_wmh = "wmh_mm3" in columns
    no_wmh = (None if has_wmh and visits.loc[als, "wmh_mm3"].notna().any() else
              "no WMH values (wmh_mm3) in ALS subjects")
    no_wmh_at_all = None if _has(visits, "wmh_mm3") else "column 'wmh_mm3' holds no values"
    plan("WMH progression, ALS vs controls", no_wmh_at_all or one_group,
         lambda: _wmh(run, visits), needs("wmh_mm3"))
    plan("WMH progression, short vs long survivors", no_survival or no_wmh,
         lambda: _survival_groups(run, visits), needs("wmh_mm3", *_SURVIVAL))
    plan("survival: Kaplan-Meier, log-rank, Cox", no_survival or no_wmh,
         lambda: _survival(run, visits), needs("wmh_mm3", *_SURVIVAL))
    plan("joint model of WMH and survival", no_survival or no_wmh,
         lambda: _joint(run, visits), needs("wmh_mm3", *_SURVIVAL))
    no_pairs = None
    if has_wmh and "alsfrs_r" in columns and not (
            visits.loc[als, ["wmh_mm3", "alsfrs_r"]].notna().all(axis=1).any()):
        no_pairs = "no ALS visit with both alsfrs_r and wmh_mm3"
    plan("ALSFRS-R vs WMH", no_pairs, lambda: _alsfrs(run, visits, no_survival is None),
         needs("alsfrs_r", "wmh_mm3"))
    rois = [c for c in visits.columns if str(c).startswith("flair_")]
    no_flair = None if rois else "needs a qFLAIR column flair_* (not in the table)"
    done: list[str] = []
    if not rois:
        plan("quantitative FLAIR", None, lambda: None, no_flair)
    for roi in rois:
        plan(f"quantitative FLAIR: {roi}",
             one_group or (None if _has(visits, roi) else f"column {roi!r} holds no values"),
             lambda roi=roi: _flair_roi(run, visits, roi, done))
    plan("qFLAIR change vs clinical decline",
         one_group or (None if _has(visits, "alsfrs_r") else "column 'alsfrs_r' holds no values"),
         lambda: _flair_association(run, visits, done), no_flair or needs("alsfrs_r"))
    import importlib.util

    no_sklearn = (None if importlib.util.find_spec("sklearn") is not None else
                  "needs scikit-learn (python -m pip install 'alsstats[classifier]')")
    plan("phenotype classification with qFLAIR",
         one_group or (None if _has(visits, "phenotype", "umn_score", "alsfrs_r") else
                       "columns 'phenotype', 'umn_score' and 'alsfrs_r' need values")
         or no_sklearn,
         lambda: _phenotype_classifier(run, visits, done),
         no_flair or needs("phenotype", "umn_score", "alsfrs_r"))
    return steps, skipped


def reproduce(data: str | os.PathLike[str] | pd.DataFrame | None = None,
              out: str | os.PathLike[str] = "results", *, quiet: bool = False,
              command: str | None = None, cutoff_months: float = 24.0,
              ci_level: float = 0.95) -> Path:
    """Run every analysis the visit table allows; write figures, tables and ``report.html``.

    Parameters
    ----------
    data : path, DataFrame or None
        The visit table (CSV, TSV, Parquet, or a DataFrame); None uses the shipped synthetic
        cohort (:func:`alsstats.load_example_cohort`).
    out : path
        Output folder. It receives ``figures/*.png`` and ``*.pdf``, ``tables/*.csv``,
        ``report.html``, ``manifest.json`` (the data's SHA-256, versions, command, and each
        analysis "ran" or "skipped" with the reason and the columns it needs) and
        ``.alsstats-output.json``, a marker listing the files the run wrote. The run never removes or overwrites a file it did not create: ``out`` must be
        missing, an empty folder, or the output of an earlier run (it has the marker); then
        only the files that run listed are replaced (or removed if not written again) and
        anything else in the folder (e.g. your notes) is left untouched. A non-empty folder
        without the marker, a regular file, a folder holding the input table ``data``, and
        the current directory, the home directory or ``/`` (unless an earlier output) are
        refused before anything is read or written. The run is built in a hidden folder
        beside ``out`` and moved in only when it has finished, each file by an atomic rename.
    quiet : bool
        No progress messages on stderr.
    command : str, optional
        The command recorded in the report's header and ``manifest.json`` (the ``alsstats``
        command line passes itself); default: this Python call.
    cutoff_months : float
        Survival-group cut-off, months from the baseline MRI (default 24, as Chadwick et al.
        2026): the short/long split, the ALSFRS-R model by survival group, Table 1.
    ci_level : float
        Level of every confidence interval and band (default 0.95).

    Returns
    -------
    pathlib.Path
        The output folder.

    Raises
    ------
    DataValidationError
        If the table breaks the contract; nothing is written then.
    TableReadError
        If ``data`` cannot be read as the table its name says (empty, binary, not Parquet...).
    OutputFolderError
        If ``out`` breaks the output-folder rule above; nothing is written then.

    Warns
    -----
    SkippedAnalysisWarning
        For each analysis the table has the columns for but cannot support (no deaths yet,
        everyone followed less than the survival cut-off, one group, no WMH in ALS, a column
        name the formula layer refuses...): the others run, and the report's "What ran, what
        did not" list, ``manifest.json`` and ``tables/analyses_not_run.csv`` give the reason.
        Analyses whose columns the table lacks are listed there too ("needs column X"), and
        on the console, without a warning.

    Notes
    -----
    Nothing is dropped silently: every subject an analysis leaves out is listed with the
    analysis and the reason in ``tables/excluded_subjects.csv`` and the report.

    Examples
    --------
    >>> import tempfile, alsstats as als
    >>> folder = als.reproduce(out=tempfile.mkdtemp() + "/results", quiet=True)
    >>> (folder / "report.html").exists()
    True
    """
    started = time.perf_counter()
    if not 0.0 < float(ci_level) < 1.0:
        raise ValueError(f"ci_level must be between 0 and 1, got {ci_level!r}")
    if not 0.0 < float(cutoff_months) < float("inf"):
        raise ValueError(f"cutoff_months must be a positive number, got {cutoff_months!r}")
    options = "".join(f", {name}={value:g}" for name, value, default in (
        ("cutoff_months", cutoff_months, 24.0), ("ci_level", ci_level, 0.95))
        if float(value) != default)
    out = Path(out)
    inputs = [] if data is None or isinstance(data, pd.DataFrame) else [data]
    earlier = check_output_folder(out, inputs)  # before anything is read or written

    def log(message: str) -> None:
        if not quiet:
            print(f"[{time.perf_counter() - started:6.1f}s] {printable(message)}",
                  file=sys.stderr)

    if data is None:
        from alsstats.synthetic import load_example_cohort

        table = load_example_cohort()
        visits = validate_visits(table)
        source = "the shipped synthetic cohort (alsstats.load_example_cohort, seed 0)"
        digest = _sha256(table.to_csv(index=False).encode()), "of the table as CSV text"
        command = command or f"alsstats.reproduce(out={str(out)!r}{options})"
    elif isinstance(data, pd.DataFrame):
        visits = validate_visits(data)
        source = "a DataFrame"
        digest = _sha256(data.to_csv(index=False).encode()), "of the table as CSV text"
        command = command or f"alsstats.reproduce(<DataFrame>, out={str(out)!r}{options})"
    else:
        visits = read_visits(data)
        source = str(data)
        digest = _sha256_file(Path(data)), "of the file"
        command = command or f"alsstats.reproduce({str(data)!r}, out={str(out)!r}{options})"
    if len(visits) == 0:
        raise DataValidationError([f"{source}: the table has no rows"])
    log(f"read {len(visits)} visits of {visits['subject'].nunique()} subjects from {source}")
    created = [p for p in [out.absolute().parent, *out.absolute().parent.parents]
               if not os.path.lexists(p)]
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = None
    try:
        staging = sibling_folder(out, "partial")
        run = _Run(staging, log, cutoff_months=float(cutoff_months), ci_level=float(ci_level))
        steps, not_run = _steps(run, visits)
        for label, reason, columns_present in not_run:
            if columns_present:
                run.skipped.append((label, reason))
            else:
                run.absent.append((label, reason))
        for label, step in steps:
            log(f"running {label}")
            run.label = label
            checkpoint = run.checkpoint()
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                try:
                    step()
                except (DataValidationError, FormulaError) as error:
                    # The table cannot support this analysis (no deaths yet, one survival
                    # group, a column name the formula refuses, ...): say so, run the rest.
                    run.roll_back(checkpoint)
                    reason = " ".join(("; ".join(error.problems)
                                       if isinstance(error, DataValidationError)
                                       else str(error)).split())
                    run.skipped.append((label, reason))
                    log(f"skipped {label}: {reason}")
            _warning_checks(run, label, caught)
            run.notes += list(dict.fromkeys(
                f"{label}: {w.category.__name__}: {w.message}" for w in caught
                if not issubclass(w.category, (DeprecationWarning, PendingDeprecationWarning))))
        for note in run.notes:
            log(f"note: {note}")
        for label, _ in steps:
            reason = dict(run.skipped).get(label)
            log(f"{label}: " + (f"skipped: {reason}" if reason else "ran"))
        for label, reason, _ in not_run:
            log(f"{label}: skipped: {reason}")
        _finish(run, visits, source, digest, command, [label for label, _ in steps], not_run)
        written = publish(staging, out, earlier, __version__)
    except BaseException:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        if not os.path.lexists(out):
            for folder in created:  # innermost first; only the folders this run made
                try:
                    folder.rmdir()
                except OSError:
                    break
        raise
    for label, reason in run.skipped:
        warnings.warn(f"reproduce: {label} was not run: {reason}", SkippedAnalysisWarning,
                      stacklevel=user_stacklevel())
    n_figures = sum(name.startswith("figures/") and name.endswith(".png") for name in written)
    n_tables = sum(name.startswith("tables/") for name in written)
    log(f"wrote {out}/report.html, {n_figures} figures and {n_tables} tables"
        + (f"; {len(run.skipped)} analysis(es) could not run (see the report)"
           if run.skipped else "")
        + (f"; {len(run.absent)} analysis(es) skipped for missing columns (see the report "
           "and manifest.json)" if run.absent else ""))
    return out


def _warning_checks(run: _Run, label: str, caught: list[warnings.WarningMessage]) -> None:
    """Singular fits and convergence warnings raised inside a step, named by its analysis
    (once each; a result's own flags are already recorded by :meth:`_Run.record`)."""
    from alsstats.errors import ConvergenceWarning, SingularFitWarning

    kinds = {SingularFitWarning: "boundary (singular) fit", ConvergenceWarning: "convergence"}
    seen = {(c.model, c.check) for c in run.checks}
    for message in caught:
        for category, check in kinds.items():
            if issubclass(message.category, category) and (label, check) not in seen:
                run.checks.append(ModelCheck(label, check, str(message.message), ok=False))
                seen.add((label, check))


def _sha256(payload: bytes) -> str:
    import hashlib

    return hashlib.sha256(payload).hexdigest()


def _sha256_file(path: Path) -> str:
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


_DEPENDENCIES = ("numpy", "scipy", "pandas", "matplotlib", "nlopt", "joblib")


def _versions() -> dict[str, str]:
    import platform
    from importlib import metadata

    versions = {"alsstats": __version__, "python": platform.python_version()}
    for name in _DEPENDENCIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def _statuses(ran: list[str], run: _Run,
              not_run: list[tuple[str, str, bool]]) -> list[AnalysisStatus]:
    """Each analysis in plan order: ran, or skipped with the reason and the columns it needs."""
    import re

    failed = dict(run.skipped)
    statuses = [AnalysisStatus(label, "skipped", failed[label]) if label in failed
                else AnalysisStatus(label, "ran") for label in ran]
    for label, reason, _ in not_run:
        needed = re.match(r"needs (?:a qFLAIR )?columns? (.*?) \(not in the table\)", reason)
        columns = needed.group(1).split(", ") if needed else []
        statuses.append(AnalysisStatus(label, "skipped", reason, columns))
    known = {status.label for status in statuses}
    statuses += [AnalysisStatus(label, "skipped", reason) for label, reason in run.skipped
                 if label not in known]
    return statuses


def _finish(run: _Run, visits: pd.DataFrame, source: str, digest: tuple[str, str],
            command: str, ran: list[str], not_run: list[tuple[str, str, bool]]) -> None:
    import json
    from datetime import datetime, timezone

    from alsstats.table_one import baseline_characteristics

    run.table("cohort", analyses.group_counts(visits))
    baseline = [("By group", baseline_characteristics(visits, by="group"))]
    patients = visits[visits["group"] == "ALS"]
    if len(patients) and all(c in visits.columns for c in _SURVIVAL) and _has(
            patients, *_SURVIVAL):
        baseline.append(("ALS patients by survival group",
                         baseline_characteristics(patients, by="survival_group",
                                                  cutoff_months=run.cutoff_months)))
    if len(patients) and "phenotype" in visits.columns and patients["phenotype"].notna().any():
        baseline.append(("ALS patients by phenotype",
                         baseline_characteristics(patients, by="phenotype")))
    for _, table in baseline:
        run.table(f"table1_by_{table.by}", table.table)
    headline = (pd.concat(run.headline, ignore_index=True) if run.headline else pd.DataFrame())
    if len(headline):
        headline = headline[["analysis", *[c for c in headline.columns if c != "analysis"]]]
    run.table("headline_effects", headline)
    excluded = (pd.concat(run.excluded, ignore_index=True) if run.excluded
                else pd.DataFrame(columns=["subject", "reason", "analysis"]))
    run.table("excluded_subjects", excluded)
    statuses = _statuses(ran, run, not_run)
    not_run_table = pd.DataFrame(
        [(s.label, s.reason, "could not run on this table" if not s.needs_columns
          and not s.reason.startswith("needs") else "no such columns")
         for s in statuses if s.status != "ran"], columns=["analysis", "reason", "kind"])
    run.table("analyses_not_run", not_run_table)
    # the headline shows the effect; analysis-specific columns stay in the CSV and sections
    shown = (headline.assign(analysis=headline["label"]).drop(columns=[
        c for c in ("label", "pearson_r", "n_subjects") if c in headline.columns])
        if len(headline) else headline)
    summary = ReportSection(
        "Headline effects", "Each analysis' main effect; every coefficient of every model is "
        "in its section, and full-precision numbers are in tables/*.csv.", [],
        {"Headline effects": ReportTable(
            shown, next(iter(run.ci_levels)) if len(run.ci_levels) == 1 else None,
            statistic="t or z")}
        if len(headline) else {})
    n_subjects, n_visits = visits["subject"].nunique(), len(visits)
    created = datetime.now(timezone.utc).isoformat(timespec="seconds")
    versions = _versions()
    header = {
        "Data": source,
        f"SHA-256 {digest[1]}": digest[0],
        "Subjects and visits": f"{n_subjects:,} subjects, {n_visits:,} visits",
        "Run": created.replace("T", " ").replace("+00:00", " UTC"),
        "Command": command,
        "Versions": ", ".join(f"{k} {v}" for k, v in versions.items()),
        "Analyses": (f"{sum(s.status == 'ran' for s in statuses)} ran, "
                     f"{sum(s.status != 'ran' for s in statuses)} skipped (Analyses not run "
                     "are listed with the reason below)"),
    }
    checks = run.checks
    write_report(
        run.folder / "report.html",
        title="alsstats report: WMH and qFLAIR in ALS",
        header=header, analyses=statuses, baseline=baseline,
        sections=[summary, *run.sections, *_model_summaries_section(run)],
        excluded=excluded.assign(analysis=excluded["label"].fillna(excluded["analysis"]))
        if "label" in excluded.columns else excluded, checks=checks,
        methods=([_mixed_models_text(run.mixed_models)] if run.mixed_models else [])
        + run.methods, notes=run.notes,
    )
    manifest = {
        "tool": "alsstats", "version": __version__, "created": created, "command": command,
        "data": {"source": source, "sha256": digest[0], "sha256_of": digest[1].removeprefix(
            "of the "), "n_subjects": int(n_subjects), "n_visits": int(n_visits)},
        "versions": versions,
        "analyses": [{"analysis": s.label, "status": s.status, "reason": s.reason or None,
                      "needs_columns": s.needs_columns} for s in statuses],
        "excluded_subjects": {str(a): int(rows["subject"].nunique())
                              for a, rows in excluded.groupby("analysis", sort=False)},
        "model_checks": [{"model": c.model, "check": c.check, "finding": c.finding,
                          "ok": c.ok} for c in checks],
    }
    atomic_write_bytes(run.folder / "manifest.json",
                       (json.dumps(manifest, indent=1) + "\n").encode())
