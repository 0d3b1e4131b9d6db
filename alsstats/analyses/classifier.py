"""Does qFLAIR add to telling ALS phenotypes apart? (Fabes et al. 2017).

scikit-learn is an optional dependency (the ``[classifier]`` extra), imported only when the
classifier runs.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from alsstats._deprecation import renamed_arguments
from alsstats.analyses._common import EFFECT_COLUMNS, Columns, _excluded, _patients, _validated
from alsstats.analyses.association import _subject_rates
from alsstats.errors import DataValidationError
from alsstats.results import AnalysisResult

__all__ = ["phenotype_classifier"]


def _bootstrap_totals(values: np.ndarray, n_resamples: int, seed: int,
                      block: int = 4_000_000) -> np.ndarray:
    """Column totals of ``values`` (subjects x k) in each of ``n_resamples`` resamples of the
    subjects drawn with replacement: (resamples x k).

    Each resample is a vector of multiplicities (how often each subject was drawn); blocks of
    them are multiplied with ``values`` at once, so memory stays bounded for any cohort.
    """
    rng = np.random.default_rng(seed)
    n = len(values)
    totals = np.empty((n_resamples, values.shape[1]))
    rows_per_block = max(1, block // n)
    for start in range(0, n_resamples, rows_per_block):
        k = min(rows_per_block, n_resamples - start)
        draws = rng.integers(0, n, size=(k, n)) + (np.arange(k) * n)[:, None]
        multiplicities = np.bincount(draws.ravel(), minlength=k * n).reshape(k, n)
        totals[start:start + k] = multiplicities @ values
    return totals


@renamed_arguments(visits="data")
def phenotype_classifier(
    data: pd.DataFrame,
    *,
    rois: Sequence[str] = ("flair_cst", "flair_cc"),
    n_splits: int = 5,
    n_bootstrap: int = 2000,
    seed: int = 0,
    ci_level: float = 0.95,
    subject: str = "subject",
    visit_time: str = "years",
    diagnosis: str = "group",
) -> AnalysisResult:
    """How much does qFLAIR add to telling ALS phenotypes apart? (Fabes et al. 2017).

    A multinomial logistic regression (standardised features, balanced class weights) predicts
    the phenotype (classic / PLS / flail arm) of each ALS subject, from (a) the ALSFRS-R rate
    of change and the baseline UMN score alone and (b) those plus baseline qFLAIR and its rate of
    change in each ROI. Both are scored on the same stratified ``n_splits``-fold out-of-fold
    predictions; the gain in accuracy and balanced accuracy gets a paired bootstrap CI over
    subjects.

    Parameters
    ----------
    data : pandas.DataFrame
        A visit table with ``phenotype``, ``alsfrs_r``, ``umn_score`` and the ROI columns.
        ``visits=`` is the former name of this argument.
    rois : sequence of str
        qFLAIR columns added in model (b).
    n_splits : int
        Folds of the stratified cross-validation (reduced to the smallest class size if needed).
    n_bootstrap : int
        Bootstrap resamples of subjects for the CIs.
    seed : int
        Seed of the folds and the bootstrap.
    ci_level : float
        Level of the percentile bootstrap intervals (default 0.95).
    subject, visit_time : str
        The table's subject-id and visit-time columns.
    diagnosis : str
        The diagnosis column; its ``control`` rows are left out.

    Returns
    -------
    AnalysisResult
        ``effect``: rows ``accuracy (clinical)``, ``accuracy (clinical + qFLAIR)``, ``accuracy
        gain``, and the same three for ``balanced accuracy``; columns ``estimate, std_error``
        (bootstrap SD), ``df`` (NaN), ``statistic`` (NaN), ``p_value`` (for the gains: the
        bootstrap share of resamples with gain <= 0, two-sided), ``ci_low, ci_high``
        (percentile), ``units, description``. ``extra["predictions"]``: per subject the
        phenotype and both out-of-fold predictions; ``extra["features"]``.

    Notes
    -----
    Per-subject rates are BLUP-based (see :func:`flair_vs_alsfrs`); they are computed once on
    all subjects without the labels, so no phenotype information leaks into the folds. The
    bootstrap resamples subjects with their out-of-fold predictions fixed, so it reflects the
    test-set sampling variability, not the variability of re-fitting the classifier.

    Examples
    --------
    >>> import warnings, alsstats as als
    >>> with warnings.catch_warnings():  # 8 months of follow-up: some stage-one fits singular
    ...     warnings.simplefilter("ignore", als.SingularFitWarning)
    ...     result = als.phenotype_classifier(als.load_example_cohort(), n_bootstrap=200)
    >>> "accuracy gain" in result.effect.index
    True
    """
    try:
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import StratifiedKFold, cross_val_predict
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler
    except ImportError as error:
        raise ImportError(
            "phenotype_classifier needs scikit-learn, an optional dependency of alsstats; "
            "install it with: python -m pip install 'alsstats[classifier]'"
        ) from error

    columns = Columns(subject=subject, visit_time=visit_time, diagnosis=diagnosis)
    table = _validated(data, require=["phenotype", "alsfrs_r", "umn_score", *rois],
                       columns=columns)
    patients = _patients(table, columns)
    als = patients[patients["phenotype"].notna().to_numpy()]
    no_phenotype = patients.loc[patients["phenotype"].isna(), subject].unique()
    from alsstats.survival import baseline_values

    baseline = baseline_values(als, columns=["phenotype", "umn_score", *rois], subject=subject,
                               visit_time=visit_time).set_index(subject)
    features = pd.concat(
        [_subject_rates(als, "alsfrs_r", columns),
         baseline["umn_score"].rename("umn_baseline")]
        + [baseline[roi].rename(f"{roi}_baseline") for roi in rois]
        + [_subject_rates(als, roi, columns) for roi in rois],
        axis=1,
    )
    complete = features.dropna()
    excluded = _excluded([(s, "a feature could not be computed (too few visits or missing)")
                          for s in features.index.difference(complete.index)]
                         + [(s, "phenotype missing") for s in no_phenotype])
    labels = baseline.loc[complete.index, "phenotype"].astype(str)
    smallest = int(labels.value_counts().min())
    if labels.nunique() < 2 or smallest < 2:
        raise DataValidationError(
            "column 'phenotype': a classifier needs at least two phenotypes with at least two "
            f"subjects each; found {labels.value_counts().to_dict()}"
        )
    folds = StratifiedKFold(n_splits=min(n_splits, smallest), shuffle=True, random_state=seed)
    clinical = ["alsfrs_r_rate", "umn_baseline"]
    with_flair = clinical + [c for c in complete.columns if c not in clinical]
    predictions = {}
    for name, columns in (("clinical", clinical), ("clinical + qFLAIR", with_flair)):
        model = make_pipeline(StandardScaler(),
                              LogisticRegression(class_weight="balanced", max_iter=2000))
        predictions[name] = cross_val_predict(model, complete[columns].to_numpy(),
                                              labels.to_numpy(), cv=folds)
    truth = labels.to_numpy()
    classes = np.unique(truth)
    members = (truth[:, None] == classes).astype(float)  # subjects x classes
    hits = {name: (predicted == truth)[:, None] * members
            for name, predicted in predictions.items()}
    names = list(hits)
    totals = _bootstrap_totals(np.hstack([members, *hits.values()]), n_bootstrap, seed)
    n_classes = len(classes)
    boot_size = totals[:, :n_classes]
    boot_hits = {name: totals[:, n_classes * (i + 1):n_classes * (i + 2)]
                 for i, name in enumerate(names)}
    rows = []
    tail = round((1.0 - ci_level) / 2.0, 12)  # 0.025 exactly, as before, at 0.95
    for metric in ("accuracy", "balanced accuracy"):
        values = {}
        for name, table in hits.items():
            if metric == "accuracy":
                point = table.sum() / len(truth)
                boot = boot_hits[name].sum(axis=1) / len(truth)
            else:
                point = np.mean(table.sum(axis=0) / members.sum(axis=0))
                with np.errstate(invalid="ignore", divide="ignore"):
                    boot = np.nanmean(boot_hits[name] / boot_size, axis=1)
            values[name] = (point, boot)
        gain_point = values["clinical + qFLAIR"][0] - values["clinical"][0]
        gain_boot = values["clinical + qFLAIR"][1] - values["clinical"][1]
        for label, (point, boot) in [*((f"{metric} ({k})", v) for k, v in values.items()),
                                     (f"{metric} gain", (gain_point, gain_boot))]:
            is_gain = label.endswith("gain")
            p_value = (min(1.0, 2 * min(np.mean(boot <= 0), np.mean(boot >= 0)))
                       if is_gain else np.nan)
            rows.append({
                "term": label, "estimate": point, "std_error": np.std(boot, ddof=1),
                "df": np.nan, "statistic": np.nan, "p_value": p_value,
                "ci_low": np.quantile(boot, tail), "ci_high": np.quantile(boot, 1.0 - tail),
                "units": "proportion",
                "description": ("clinical + qFLAIR minus clinical" if is_gain else
                                f"out-of-fold {metric}"),
            })
    effect = pd.DataFrame(rows).set_index("term")
    method = {
        "formula": f"phenotype ~ {' + '.join(clinical)} vs phenotype ~ {' + '.join(with_flair)}",
        "estimation": "multinomial logistic regression (lbfgs, L2, C=1), balanced class weights",
        "df_method": "not applicable",
        "ci": f"{ci_level:.0%} percentile, paired bootstrap over subjects "
              f"({n_bootstrap} resamples)",
        "ci_level": ci_level,
        "population": "ALS with a phenotype",
        "cross_validation": f"stratified {folds.n_splits}-fold, seed {seed}",
    }
    counts = (labels.value_counts().rename_axis("group").reset_index(name="n_subjects")
              .assign(n_visits=lambda t: t["group"].map(als.groupby("phenotype").size())))
    return AnalysisResult(
        name="phenotype_classifier", effect=effect,
        coefficients=effect[EFFECT_COLUMNS], model=None, counts=counts, excluded=excluded,
        method=method,
        extra={"predictions": pd.DataFrame({"phenotype": truth, **predictions},
                                           index=complete.index),
               "features": complete},
    )
