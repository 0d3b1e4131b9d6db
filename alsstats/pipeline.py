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
from alsstats.data import read_visits, validate_visits
from alsstats.errors import (
    DataValidationError,
    DroppedRowsWarning,
    FormulaError,
    SkippedAnalysisWarning,
)
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
    skipped: list[tuple[str, str]] = field(default_factory=list)
    absent: list[tuple[str, str]] = field(default_factory=list)
    written: list[Path] = field(default_factory=list)
    stems: dict[str, set[str]] = field(default_factory=dict)

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

    def figure(self, name: str, draw: Callable[[Any], Any], size=(6.4, 4.6)) -> Path:
        # A bare Figure, not pyplot: no GUI backend, no global figure state to leak in a
        # notebook session, nothing to close.
        from matplotlib.figure import Figure

        figure = Figure(figsize=size, layout="constrained")
        draw(figure.subplots())
        paths = save_figure(figure, self._path("figures", name))
        self.written += paths
        return paths[0]

    def record(self, result: AnalysisResult) -> None:
        self.headline.append(result.effect.reset_index().assign(analysis=result.name))
        if len(result.excluded):
            self.excluded.append(result.excluded.assign(analysis=result.name))
        self.table(f"{result.name}_coefficients", result.coefficients)
        self.methods.append(
            f"{result.name}: " + "; ".join(f"{k} = {v}" for k, v in result.method.items())
        )

    def checkpoint(self) -> dict[str, Any]:
        return {name: len(getattr(self, name)) for name in
                ("sections", "headline", "excluded", "methods", "written")} | {
            "stems": {kind: set(taken) for kind, taken in self.stems.items()}}

    def roll_back(self, checkpoint: dict[str, Any]) -> None:
        """Forget (and delete) what a step that could not finish had produced."""
        for path in self.written[checkpoint["written"]:]:
            path.unlink(missing_ok=True)
        for name, length in checkpoint.items():
            if name != "stems":
                del getattr(self, name)[length:]
        self.stems = checkpoint["stems"]


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
        f" {result.method['unclassified_subjects']} ALS subject(s) could not be classified "
        "(listed under Excluded subjects).")


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
    if "by_survival_group_not_fitted" in result.extra:
        run.skipped.append(("ALSFRS-R vs WMH by survival group",
                            result.extra["by_survival_group_not_fitted"]))
    if "by_survival_group" in result.extra:
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
    everyone = baseline_values(als, ["wmh_mm3", "age", "sex", "survival_months", "event"])
    usable = everyone["wmh_mm3"].notna() & everyone["survival_months"].notna()
    left_out = everyone.loc[~usable, ["subject", "wmh_mm3"]]
    reasons = [("no WMH at the baseline (first) visit (the time-varying Cox uses later "
                "visits)" if pd.isna(wmh) else
                "survival time and event missing") for wmh in left_out["wmh_mm3"]]
    excluded = pd.DataFrame({"subject": left_out["subject"].to_numpy(), "reason": reasons})
    base = everyone[usable].copy()
    if base.empty:
        raise DataValidationError(
            f"survival: none of the {len(everyone)} ALS subjects has both a baseline WMH "
            "(wmh_mm3 at the first visit) and survival_months/event")
    if base["event"].sum() == 0:
        raise DataValidationError(
            f"survival: no events (deaths) among the {len(base)} ALS subjects with a baseline "
            "WMH and survival data; Kaplan-Meier, log-rank and Cox need at least one")
    if len(excluded):
        warnings.warn(
            f"survival: {len(excluded)} of {len(everyone)} ALS subjects left out of "
            f"Kaplan-Meier, log-rank and Cox ({excluded['reason'].value_counts().to_dict()}); "
            "listed in tables/excluded_subjects.csv.", DroppedRowsWarning, stacklevel=2)
        run.excluded.append(excluded.assign(analysis="survival (Kaplan-Meier, log-rank, Cox)"))
    median = base["wmh_mm3"].median()
    base["baseline_wmh"] = pd.Categorical(
        ["high" if v > median else "low" for v in base["wmh_mm3"]], categories=["low", "high"])
    if base["baseline_wmh"].nunique() < 2:
        raise DataValidationError(
            f"survival: every one of the {len(base)} ALS subjects has the same baseline WMH "
            f"({median:g} mm3), so there are no high and low groups to compare")
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
    # The time-varying model uses every visit with WMH (a subject enters at the first one);
    # only subjects with no WMH at any visit are left out of it.
    in_time_varying = set(time_varying.intervals["subject"]) if (
        time_varying.intervals is not None) else set(als["subject"])
    never = [s for s in pd.unique(als["subject"]) if s not in in_time_varying]
    if never:
        run.excluded.append(pd.DataFrame({
            "subject": never, "reason": "no WMH at any visit, or no follow-up after it",
            "analysis": "survival (time-varying Cox)"}))
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
        f"{len(base)} of {len(everyone)} ALS subjects ({int(base['event'].sum())} events); "
        f"{len(excluded)} left out (listed under Excluded subjects). "
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


def _flair_roi(run: _Run, visits: pd.DataFrame, roi: str, done: list[str]) -> None:
    from alsstats.plotting import plot_trajectories

    result = analyses.flair_progression(visits, roi)
    run.record(result)
    figures = [run.figure(f"{roi}_als_vs_control", lambda ax: plot_trajectories(
        result.data, y=roi, group="group", fit=result.fit, ax=ax))]
    if "phenotype_model" in result.extra:
        figures.append(run.figure(f"{roi}_by_phenotype", lambda ax: plot_trajectories(
            result.extra["phenotype_data"], y=roi, group="phenotype",
            fit=result.extra["phenotype_fit"], ax=ax)))
        run.table(f"{roi}_phenotype_coefficients", result.extra["phenotype_model"].coefficients)
    run.sections.append(ReportSection(
        f"Quantitative FLAIR: {roi}", "", figures, {"Effects": result.effect}))
    done.append(roi)


def _flair_association(run: _Run, visits: pd.DataFrame, rois: list[str]) -> None:
    if not rois:
        raise DataValidationError("no qFLAIR column could be analysed (see the skipped analyses)")
    association = analyses.flair_vs_alsfrs(visits, rois[0])
    run.record(association)
    run.sections.append(ReportSection(
        f"Rate of {rois[0]} change vs clinical decline", association.method["formula"], [],
        {"Associations": association.effect}))


def _phenotype_classifier(run: _Run, visits: pd.DataFrame, rois: list[str]) -> None:
    if not rois:
        raise DataValidationError("no qFLAIR column could be analysed (see the skipped analyses)")
    classifier = analyses.phenotype_classifier(visits, rois=rois)
    run.record(classifier)
    run.sections.append(ReportSection(
        "Phenotype classification: does qFLAIR add to ALSFRS-R slope and UMN score?",
        classifier.method["cross_validation"], [],
        {"Out-of-fold accuracy": classifier.effect, "Subjects": classifier.counts}))


def _steps(run: _Run, visits: pd.DataFrame) -> tuple[list[tuple[str, Callable[[], None]]],
                                                      list[tuple[str, str, bool]]]:
    """The analyses this table allows, and those it does not with the reason and whether the
    table has the columns (absent columns are noted in the report; present columns whose
    values cannot support the analysis are also warned about)."""
    steps: list[tuple[str, Callable[[], None]]] = []
    skipped: list[tuple[str, str, bool]] = []

    def plan(label: str, reason: str | None, step: Callable[[], None],
             columns_present: bool = True) -> None:
        if reason is None:
            steps.append((label, step))
        else:
            skipped.append((label, reason, columns_present))

    groups = sorted(set(visits["group"].dropna().astype(str)))
    one_group = (None if groups == ["ALS", "control"] else
                 f"column 'group' holds only {' and '.join(groups) or 'no'} subjects; "
                 "the comparison needs ALS and control subjects")
    als = (visits["group"] == "ALS").to_numpy()
    survival_columns = all(c in visits.columns for c in ("survival_months", "event"))
    if not survival_columns:
        no_survival = "the table has no 'survival_months' and 'event' columns"
    elif not als.any():
        no_survival = "no ALS subjects"
    elif not _has(visits[als], "survival_months", "event"):
        no_survival = "columns 'survival_months' and 'event' hold no values in ALS subjects"
    else:
        no_survival = None
    if "wmh_mm3" in visits.columns:
        no_wmh = None if visits.loc[als, "wmh_mm3"].notna().any() else (
            "no WMH values (wmh_mm3) in ALS subjects")
        no_wmh_at_all = None if _has(visits, "wmh_mm3") else "column 'wmh_mm3' holds no values"
        plan("WMH progression, ALS vs controls", no_wmh_at_all or one_group,
             lambda: _wmh(run, visits))
        plan("WMH progression, short vs long survivors", no_survival or no_wmh,
             lambda: _survival_groups(run, visits), survival_columns)
        plan("survival: Kaplan-Meier, log-rank, Cox", no_survival or no_wmh,
             lambda: _survival(run, visits), survival_columns)
        plan("joint model of WMH and survival", no_survival or no_wmh,
             lambda: _joint(run, visits), survival_columns)
        if "alsfrs_r" in visits.columns:
            no_pairs = (None if (visits.loc[als, ["wmh_mm3", "alsfrs_r"]].notna().all(axis=1)
                                 .any()) else "no ALS visit with both alsfrs_r and wmh_mm3")
            plan("ALSFRS-R vs WMH", no_pairs,
                 lambda: _alsfrs(run, visits, no_survival is None))
    rois = [c for c in visits.columns if str(c).startswith("flair_")]
    done: list[str] = []
    for roi in rois:
        plan(f"quantitative FLAIR: {roi}",
             one_group or (None if _has(visits, roi) else f"column {roi!r} holds no values"),
             lambda roi=roi: _flair_roi(run, visits, roi, done))
    if rois and one_group is None and _has(visits, "alsfrs_r"):
        plan("qFLAIR change vs clinical decline", None,
             lambda: _flair_association(run, visits, done))
    if rois and one_group is None and _has(visits, "phenotype", "umn_score", "alsfrs_r"):
        plan("phenotype classification with qFLAIR", None,
             lambda: _phenotype_classifier(run, visits, done))
    return steps, skipped


def reproduce(data: str | os.PathLike[str] | pd.DataFrame | None = None,
              out: str | os.PathLike[str] = "results", *, quiet: bool = False) -> Path:
    """Run every analysis the visit table allows; write figures, tables and ``report.html``.

    Parameters
    ----------
    data : path, DataFrame or None
        The visit table (CSV, TSV, Parquet, or a DataFrame); None uses the shipped synthetic
        cohort (:func:`alsstats.load_example_cohort`).
    out : path
        Output folder. It receives ``figures/*.png`` and ``*.pdf``, ``tables/*.csv``,
        ``report.html`` and ``.alsstats-output.json``, a marker listing the files the run
        wrote. The run never removes or overwrites a file it did not create: ``out`` must be
        missing, an empty folder, or the output of an earlier run (it has the marker); then
        only the files that run listed are replaced (or removed if not written again) and
        anything else in the folder (e.g. your notes) is left untouched. A non-empty folder
        without the marker, a regular file, a folder holding the input table ``data``, and
        the current directory, the home directory or ``/`` (unless an earlier output) are
        refused before anything is read or written. The run is built in a hidden folder
        beside ``out`` and moved in only when it has finished, each file by an atomic rename.
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
    TableReadError
        If ``data`` cannot be read as the table its name says (empty, binary, not Parquet...).
    OutputFolderError
        If ``out`` breaks the output-folder rule above; nothing is written then.

    Warns
    -----
    SkippedAnalysisWarning
        For each analysis the table has the columns for but cannot support (no deaths yet,
        everyone followed less than 24 months, one group, no WMH in ALS, a column name the
        formula layer refuses...): the others run, and the report's "Analyses not run"
        section and ``tables/analyses_not_run.csv`` list it with the reason.

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
    out = Path(out)
    inputs = [] if data is None or isinstance(data, pd.DataFrame) else [data]
    earlier = check_output_folder(out, inputs)  # before anything is read or written

    def log(message: str) -> None:
        if not quiet:
            print(f"[{time.perf_counter() - started:6.1f}s] {printable(message)}",
                  file=sys.stderr)

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
    if len(visits) == 0:
        raise DataValidationError([f"{source}: the table has no rows"])
    log(f"read {len(visits)} visits of {visits['subject'].nunique()} subjects from {source}")
    created = [p for p in [out.absolute().parent, *out.absolute().parent.parents]
               if not os.path.lexists(p)]
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = None
    try:
        staging = sibling_folder(out, "partial")
        run = _Run(staging, log)
        steps, not_run = _steps(run, visits)
        for label, reason, columns_present in not_run:
            log(f"not run: {label}: {reason}")
            if columns_present:
                run.skipped.append((label, reason))
            else:
                run.absent.append((label, reason))
        for label, step in steps:
            log(f"running {label}")
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
            run.notes += list(dict.fromkeys(
                f"{label}: {w.category.__name__}: {w.message}" for w in caught
                if not issubclass(w.category, (DeprecationWarning, PendingDeprecationWarning))))
        for note in run.notes:
            log(f"note: {note}")
        _finish(run, visits, source)
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
                      stacklevel=2)
    n_figures = sum(name.startswith("figures/") and name.endswith(".png") for name in written)
    n_tables = sum(name.startswith("tables/") for name in written)
    log(f"wrote {out}/report.html, {n_figures} figures and {n_tables} tables"
        + (f"; {len(run.skipped)} analysis(es) could not run (see the report)"
           if run.skipped else ""))
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
    not_run = pd.DataFrame(
        [(label, reason, "could not run on this table") for label, reason in run.skipped]
        + [(label, reason, "no such columns") for label, reason in run.absent],
        columns=["analysis", "reason", "kind"])
    run.table("analyses_not_run", not_run)
    not_run_section = ReportSection(
        "Analyses not run",
        (f"{len(run.skipped)} analysis(es) could not run on this table and "
         f"{len(run.absent)} need columns the table does not have; everything else ran."
         if len(not_run) else "Every analysis ran."), [],
        {"Analyses not run": not_run} if len(not_run) else {})
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
        sections=[summary, not_run_section, *run.sections, excluded_section, notes],
        methods=methods,
    )
