"""``alsstats reproduce``: every analysis a visit table allows, to figures, tables and a report.

The run is all or nothing: the table is validated before anything is written, everything is
built in a hidden temporary folder beside ``out``, and only a finished run replaces ``out``.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
import uuid
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from alsstats import analyses
from alsstats.data import read_visits, validate_visits
from alsstats.report import ReportSection, save_figure, write_report, write_table
from alsstats.results import AnalysisResult

__all__ = ["reproduce"]

WMH_PER = 1000.0
"""Cox models report hazard ratios per this many mm3 of WMH."""


@dataclass
class _Run:
    """Collects what each step produces, in order."""

    folder: Path
    log: Callable[[str], None]
    sections: list[ReportSection] = field(default_factory=list)
    headline: list[pd.DataFrame] = field(default_factory=list)
    excluded: list[pd.DataFrame] = field(default_factory=list)
    methods: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def table(self, name: str, frame: pd.DataFrame) -> pd.DataFrame:
        write_table(frame, self.folder / "tables" / f"{name}.csv")
        return frame

    def figure(self, name: str, draw: Callable[[Any], Any], size=(6.4, 4.6)) -> Path:
        # A bare Figure, not pyplot: no GUI backend, no global figure state to leak in a
        # notebook session, nothing to close.
        from matplotlib.figure import Figure

        figure = Figure(figsize=size, layout="constrained")
        draw(figure.subplots())
        return save_figure(figure, self.folder / "figures" / name)[0]

    def record(self, result: AnalysisResult) -> None:
        self.headline.append(result.effect.reset_index().assign(analysis=result.name))
        if len(result.excluded):
            self.excluded.append(result.excluded.assign(analysis=result.name))
        self.table(f"{result.name}_coefficients", result.coefficients)
        self.methods.append(
            f"{result.name}: " + "; ".join(f"{k} = {v}" for k, v in result.method.items())
        )


def _has(visits: pd.DataFrame, *columns: str) -> bool:
    return all(c in visits.columns and visits[c].notna().any() for c in columns)


def _sentence(row: pd.Series, what: str) -> str:
    return (f"{what}: {row.estimate:.1f} {row.units} (95% CI {row.ci_low:.1f} to "
            f"{row.ci_high:.1f}; t = {row.statistic:.2f} on {row.df:.1f} df; "
            f"p = {row.p_value:.3g}).")


def _trajectory_section(run: _Run, result: AnalysisResult, group: str, figure_name: str,
                        title: str, what: str, note: str = "") -> None:
    from alsstats.plotting import plot_trajectories

    run.record(result)
    figure = run.figure(figure_name, lambda ax: plot_trajectories(
        result.data, y="wmh_mm3", group=group, fit=result.fit, ax=ax))
    run.sections.append(ReportSection(
        title, _sentence(result.effect.iloc[0], what) + note, [figure],
        {"Subjects and visits": result.counts, "Coefficients": result.coefficients}))


def _wmh(run: _Run, visits: pd.DataFrame) -> None:
    _trajectory_section(run, analyses.wmh_progression(visits), "group",
                        "fig2a_wmh_als_vs_control", "Figure 2A: WMH progression, ALS vs controls",
                        "ALS minus control WMH rate")


def _survival_groups(run: _Run, visits: pd.DataFrame) -> None:
    result = analyses.survival_group_progression(visits)
    _trajectory_section(
        run, result, "survival_group", "fig2b_wmh_short_vs_long",
        "Figure 2B: WMH progression, short vs long survivors",
        "Short minus long survivors' WMH rate",
        f" {len(result.excluded)} ALS subject(s) could not be classified (listed under "
        "Excluded subjects).")


def _joint(run: _Run, visits: pd.DataFrame) -> None:
    import math

    from alsstats.plotting import plot_dynamic_survival

    result = analyses.wmh_survival_joint(visits)
    run.record(result)
    run.table("wmh_survival_joint_survival", result.model.survival)
    figure = run.figure("fig_joint_dynamic_survival", lambda ax: plot_dynamic_survival(
        result.extra["dynamic_survival"], ax=ax))
    value = result.effect.loc["value"]
    run.sections.append(ReportSection(
        "Joint model: WMH and survival without the 24-month split",
        f"Hazard ratio of death per 1000 mm3 of current WMH: {math.exp(value.estimate):.2f} "
        f"(95% CI {math.exp(value.ci_low):.2f} to {math.exp(value.ci_high):.2f}; "
        f"p = {value.p_value:.3g}). {result.extra['comparison']} Unlike the short/long split, "
        "which leaves out patients censored before the cut-off and groups patients by an outcome "
        "seen after their scans, the joint model keeps every patient and lets death and WMH "
        "depend on the same latent trajectory. The figure shows dynamic survival predictions "
        "for three patients (slowest, median and fastest WMH rate).",
        [figure], {"Event process (log hazard ratios)": result.model.survival,
                   "Longitudinal process (WMH, cm3)": result.model.longitudinal}))


def _alsfrs(run: _Run, visits: pd.DataFrame, with_groups: bool) -> None:
    from alsstats.plotting import plot_association

    result = analyses.alsfrs_vs_wmh(visits, cutoff_months=24 if with_groups else None)
    run.record(result)
    figures = [run.figure("fig3a_alsfrs_vs_wmh", lambda ax: plot_association(
        result.data, x="wmh_mm3", y="alsfrs_r", fit=result.fit, ax=ax))]
    tables = {"Coefficients": result.coefficients}
    if with_groups:
        model = result.extra["by_survival_group"]
        figures.append(run.figure("fig3b_alsfrs_vs_wmh_by_survival", lambda ax: plot_association(
            result.extra["group_data"], x="wmh_mm3", y="alsfrs_r", group="survival_group",
            fit=result.extra["group_fit"], ax=ax)))
        tables["Slope in each survival group"] = result.extra["group_slopes"]
        run.table("alsfrs_vs_wmh_by_survival_group_coefficients", model.coefficients)
    row = result.effect.loc["wmh_mm3"]
    run.sections.append(ReportSection(
        "Figure 3: ALSFRS-R and WMH",
        f"ALSFRS-R change per {result.method['per']:g} mm3 of WMH: {row.estimate:.2f} points "
        f"(95% CI {row.ci_low:.2f} to {row.ci_high:.2f}; p = {row.p_value:.3g}).",
        figures, tables))


def _survival(run: _Run, visits: pd.DataFrame) -> None:
    from alsstats.plotting import plot_forest, plot_kaplan_meier
    from alsstats.survival import (
        baseline_values,
        fit_cox,
        fit_cox_time_varying,
        kaplan_meier,
        logrank_test,
    )

    als = visits[visits["group"] == "ALS"]
    base = baseline_values(als, ["wmh_mm3", "age", "sex", "survival_months", "event"])
    base = base.dropna(subset=["wmh_mm3"])
    median = base["wmh_mm3"].median()
    base["baseline_wmh"] = pd.Categorical(
        ["high" if v > median else "low" for v in base["wmh_mm3"]], categories=["low", "high"])
    base[f"wmh_per_{WMH_PER:g}"] = base["wmh_mm3"] / WMH_PER
    km = kaplan_meier(base, group="baseline_wmh", subject=None)
    logrank = logrank_test(base, group="baseline_wmh", subject=None)
    covariate = f"wmh_per_{WMH_PER:g}"
    cox = fit_cox(base, f"Surv(survival_months, event) ~ {covariate} + age + sex", subject=None)
    breslow = fit_cox(base, f"Surv(survival_months, event) ~ {covariate} + age + sex",
                      ties="breslow", subject=None)
    tv_visits = als.assign(**{covariate: als["wmh_mm3"] / WMH_PER})
    time_varying = fit_cox_time_varying(
        tv_visits, f"Surv(survival_months, event) ~ {covariate} + age + sex")
    zph = cox.check_proportional_hazards()
    run.table("km_survival_by_baseline_wmh", km.table)
    run.table("km_median_by_baseline_wmh", km.median)
    run.table("logrank_baseline_wmh", logrank.table.assign(
        chisq=logrank.statistic, df=logrank.df, p_value=logrank.p_value))
    run.table("cox_efron", cox.coefficients)
    run.table("cox_breslow", breslow.coefficients)
    run.table("cox_time_varying", time_varying.coefficients)
    run.table("cox_zph", zph)
    from alsstats.plotting import OKABE_ITO

    km_figure = run.figure("km_by_baseline_wmh", lambda ax: plot_kaplan_meier(
        km.table, group="group", ax=ax,
        group_labels={"low": "Low WMH", "high": "High WMH"},
        palette={"low": OKABE_ITO["blue"], "high": OKABE_ITO["vermillion"]}),
        size=(6.4, 5.2))
    forest = run.figure("forest_cox", lambda ax: plot_forest(
        cox.coefficients, ax=ax, hazard_ratio=True,
        labels={covariate: f"WMH (per {WMH_PER:g} mm³)", "age": "Age (per year)",
                "sexM": "Male sex"}), size=(6.4, 3.2))
    run.sections.append(ReportSection(
        "Survival from the baseline MRI",
        f"Kaplan-Meier by baseline WMH: high = above the ALS median ({median:.0f} mm3), low = "
        "at or below it; "
        f"log-rank chi-square {logrank.statistic:.2f} on {logrank.df} df, "
        f"p = {logrank.p_value:.3g}. Cox model (Efron ties) concordance {cox.concordance:.3f}.",
        [km_figure, forest],
        {"Median survival (months)": km.median, "Cox, Efron ties": cox.coefficients,
         "Cox, Breslow ties": breslow.coefficients,
         "Cox with WMH as a time-varying covariate": time_varying.coefficients,
         "Proportional hazards (scaled Schoenfeld)": zph}))
    run.methods.append(
        "Survival: Kaplan-Meier with Greenwood variance and log-transformed pointwise CIs "
        "(R survfit's default); log-rank as R survdiff; Cox proportional hazards by partial "
        "likelihood with Efron (and Breslow) ties as R coxph, Wald CIs; proportional hazards "
        "checked by scaled Schoenfeld residuals (R cox.zph, KM time transform); time-varying "
        "Cox on (start, stop] intervals with WMH carried forward from each visit."
    )


def _flair(run: _Run, visits: pd.DataFrame) -> None:
    from alsstats.plotting import plot_trajectories

    rois = [c for c in visits.columns if c.startswith("flair_") and _has(visits, c)]
    for roi in rois:
        result = analyses.flair_progression(visits, roi)
        run.record(result)
        figures = [run.figure(f"{roi}_als_vs_control", lambda ax, result=result, roi=roi:
                              plot_trajectories(result.data, y=roi, group="group",
                                                fit=result.fit, ax=ax))]
        if "phenotype_model" in result.extra:
            figures.append(run.figure(
                f"{roi}_by_phenotype", lambda ax, result=result, roi=roi:
                plot_trajectories(result.extra["phenotype_data"], y=roi, group="phenotype",
                                  fit=result.extra["phenotype_fit"], ax=ax)))
            run.table(f"{roi}_phenotype_coefficients",
                      result.extra["phenotype_model"].coefficients)
        run.sections.append(ReportSection(
            f"Quantitative FLAIR: {roi}", "", figures, {"Effects": result.effect}))
    if _has(visits, "alsfrs_r") and rois:
        association = analyses.flair_vs_alsfrs(visits, rois[0])
        run.record(association)
        run.sections.append(ReportSection(
            f"Rate of {rois[0]} change vs clinical decline", association.method["formula"], [],
            {"Associations": association.effect}))
    if _has(visits, "phenotype", "umn_score", "alsfrs_r") and rois:
        import importlib.util

        if importlib.util.find_spec("sklearn") is None:
            run.notes.append("phenotype classification skipped: needs scikit-learn "
                             "(python -m pip install 'alsstats[classifier]')")
            return
        classifier = analyses.phenotype_classifier(visits, rois=rois)
        run.record(classifier)
        run.sections.append(ReportSection(
            "Phenotype classification: does qFLAIR add to ALSFRS-R slope and UMN score?",
            classifier.method["cross_validation"], [],
            {"Out-of-fold accuracy": classifier.effect, "Subjects": classifier.counts}))


def reproduce(data: str | os.PathLike[str] | pd.DataFrame | None = None,
              out: str | os.PathLike[str] = "results", *, quiet: bool = False) -> Path:
    """Run every analysis the visit table allows; write figures, tables and ``report.html``.

    Parameters
    ----------
    data : path, DataFrame or None
        The visit table (CSV, TSV, Parquet, or a DataFrame); None uses the shipped synthetic
        cohort (:func:`alsstats.load_example_cohort`).
    out : path
        Output folder; replaced as a whole when the run finishes. It holds ``figures/*.png``
        and ``*.pdf``, ``tables/*.csv`` and ``report.html``.
    quiet : bool
        No progress messages on stderr.

    Returns
    -------
    pathlib.Path
        The output folder.

    Raises
    ------
    DataValidationError
        If the table breaks the contract; nothing is written then.

    Examples
    --------
    >>> import tempfile, alsstats as als
    >>> folder = als.reproduce(out=tempfile.mkdtemp() + "/results", quiet=True)
    >>> (folder / "report.html").exists()
    True
    """
    started = time.perf_counter()

    def log(message: str) -> None:
        if not quiet:
            print(f"[{time.perf_counter() - started:6.1f}s] {message}", file=sys.stderr)

    if data is None:
        from alsstats.synthetic import load_example_cohort

        visits = validate_visits(load_example_cohort())
        source = "the shipped synthetic cohort (alsstats.load_example_cohort, seed 0)"
    elif isinstance(data, pd.DataFrame):
        visits = validate_visits(data)
        source = "a DataFrame"
    else:
        visits = read_visits(data)
        source = str(data)
    log(f"read {len(visits)} visits of {visits['subject'].nunique()} subjects from {source}")

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = _sibling_folder(out, "partial")
    try:
        run = _Run(staging, log)
        steps: list[tuple[str, Callable[[], None]]] = []
        both_groups = visits["group"].nunique() == 2
        has_survival = _has(visits, "survival_months", "event") and (visits["group"] == "ALS").any()
        if _has(visits, "wmh_mm3") and both_groups:
            steps.append(("WMH progression, ALS vs controls", lambda: _wmh(run, visits)))
        if _has(visits, "wmh_mm3") and has_survival:
            steps.append(("WMH progression, short vs long survivors",
                          lambda: _survival_groups(run, visits)))
            steps.append(("survival: Kaplan-Meier, log-rank, Cox", lambda: _survival(run, visits)))
            steps.append(("joint model of WMH and survival", lambda: _joint(run, visits)))
        if _has(visits, "wmh_mm3", "alsfrs_r"):
            steps.append(("ALSFRS-R vs WMH", lambda: _alsfrs(run, visits, has_survival)))
        if any(c.startswith("flair_") for c in visits.columns) and both_groups:
            steps.append(("quantitative FLAIR", lambda: _flair(run, visits)))
        for label, step in steps:
            log(f"running {label}")
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                step()
            run.notes += list(dict.fromkeys(
                f"{label}: {w.category.__name__}: {w.message}" for w in caught
                if not issubclass(w.category, (DeprecationWarning, PendingDeprecationWarning))))
        for note in run.notes:
            log(f"note: {note}")
        _finish(run, visits, source)
        _replace(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    log(f"wrote {out}/report.html, {len(list((out / 'figures').glob('*.png')))} figures and "
        f"{len(list((out / 'tables').glob('*.csv')))} tables")
    return out


def _finish(run: _Run, visits: pd.DataFrame, source: str) -> None:
    cohort = run.table("cohort", analyses.group_counts(visits))
    headline = (pd.concat(run.headline, ignore_index=True) if run.headline else pd.DataFrame())
    if len(headline):
        headline = headline[["analysis", *[c for c in headline.columns if c != "analysis"]]]
    run.table("headline_effects", headline)
    excluded = (pd.concat(run.excluded, ignore_index=True) if run.excluded
                else pd.DataFrame(columns=["subject", "reason", "analysis"]))
    run.table("excluded_subjects", excluded)
    summary = ReportSection(
        "Cohort and headline effects",
        "Estimates with 95% confidence intervals; mixed models by REML with Satterthwaite "
        "degrees of freedom (as lmerTest).",
        [], {"Subjects and visits per group": cohort, "Headline effects": headline})
    excluded_section = ReportSection(
        "Excluded subjects",
        f"{excluded['subject'].nunique()} subject(s) left out of at least one analysis; "
        "each row gives the analysis and the reason." if len(excluded) else
        "No subject was left out.", [],
        {"Excluded subjects": excluded} if len(excluded) else {})
    notes = ReportSection("Notes from the run", "Warnings raised while fitting, verbatim.", [],
                          {"Warnings": pd.DataFrame({"warning": run.notes})} if run.notes
                          else {})
    methods = [
        "Linear mixed-effects models fitted by restricted maximum likelihood (REML) with an "
        "exact profiled-deviance engine (lme4's formulation, BOBYQA optimiser); fixed-effect "
        "t-tests with Satterthwaite degrees of freedom and Wald t confidence intervals, as "
        "lmerTest's summary. Subject is the random effect; age and sex are covariates.",
        "Survival groups: ALS patients with an event at or before 24 months from the baseline "
        "MRI are short survivors; those followed beyond 24 months are long survivors; those "
        "censored at or before 24 months cannot be classified and are excluded.",
        "Fitted trajectories are cohort-average predictions (design rows averaged over the "
        "subjects' covariates) with pointwise Satterthwaite t intervals.",
        *run.methods,
    ]
    write_report(
        run.folder / "report.html",
        title="alsstats: WMH and qFLAIR in ALS — reproduced analyses",
        intro=f"Data: {source}; {visits['subject'].nunique()} subjects, {len(visits)} visits.",
        sections=[summary, *run.sections, excluded_section, notes],
        methods=methods,
    )


def _sibling_folder(out: Path, kind: str) -> Path:
    """A new hidden folder beside ``out`` with the user's usual permissions (``mkdtemp`` would
    make it, and so the finished ``out``, readable by its owner only)."""
    folder = out.parent / f".{out.name}.{kind}-{os.getpid()}-{uuid.uuid4().hex}"
    folder.mkdir()
    return folder


def _replace(staging: Path, out: Path) -> None:
    """Move the finished ``staging`` folder to ``out``, replacing what was there."""
    if out.exists():
        retired = _sibling_folder(out, "old")
        os.replace(out, retired / out.name)
        os.replace(staging, out)
        shutil.rmtree(retired, ignore_errors=True)
    else:
        os.replace(staging, out)
