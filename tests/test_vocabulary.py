"""One vocabulary for arguments (issue 14), and one release of grace for the old spellings.

For every renamed argument: the old spelling warns with AlsstatsDeprecationWarning and gives
the same result as the new one; a formerly positional argument still works by position (with
the warning); old and new together are a TypeError. A walk over ``alsstats.__all__`` keeps the
vocabulary: ``data`` first, no ``visits``/``conf_level``/``years``/``group``/``time``
parameters, keyword-only after the data and the formula.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest

import alsstats as als
from alsstats.errors import AlsstatsDeprecationWarning
from alsstats.lme.examples import example_data

# The calls compared here run on the shipped cohort as it is; what they say about its
# unclassified or dropped subjects is tested elsewhere.
pytestmark = [
    pytest.mark.filterwarnings("ignore::alsstats.errors.UnclassifiedSubjectsWarning"),
    pytest.mark.filterwarnings("ignore::alsstats.errors.DroppedRowsWarning"),
]


@pytest.fixture(scope="module")
def cohort() -> pd.DataFrame:
    return als.load_example_cohort()


@pytest.fixture(scope="module")
def patients(cohort) -> pd.DataFrame:
    return cohort[cohort["group"] == "ALS"].reset_index(drop=True)


@pytest.fixture(scope="module")
def small_joint(patients) -> pd.DataFrame:
    keep = patients["subject"].isin(pd.unique(patients["subject"])[:60])
    return patients[keep].reset_index(drop=True)


def _same(a: Any, b: Any) -> None:
    """Assert two results of the same call are equal (frames, series, arrays or results)."""
    if isinstance(a, pd.DataFrame):
        pd.testing.assert_frame_equal(a, b)
    elif isinstance(a, pd.Series):
        pd.testing.assert_series_equal(a, b)
    elif isinstance(a, np.ndarray):
        np.testing.assert_array_equal(a, b)
    else:
        assert type(a) is type(b)
        frames = [name for name in ("coefficients", "table", "median", "groups", "counts",
                                    "excluded", "longitudinal", "survival", "fixed_effects")
                  if isinstance(getattr(a, name, None), (pd.DataFrame, pd.Series))]
        assert frames, f"nothing to compare on {type(a).__name__}"
        for name in frames:
            _same(getattr(a, name), getattr(b, name))
        for name in ("statistic", "p_value", "loglik", "n", "n_events"):
            if hasattr(a, name):
                assert getattr(a, name) == getattr(b, name), name


F_COX = "Surv(survival_months, event) ~ age + sex"
F_LME = "y ~ group * years + (1 | subject)"
F_JOINT = "wmh_mm3 ~ years + (1 | subject)"
S_JOINT = "Surv(survival_months / 12, event) ~ 1"

# (id, fixture name, call, old keywords, new keywords)
RENAMED: list[tuple[str, str, Callable[..., Any], dict, dict]] = [
    ("kaplan_meier time", "patients", als.kaplan_meier,
     dict(time="survival_months"), dict(survival_time="survival_months")),
    ("kaplan_meier group", "patients", als.kaplan_meier,
     dict(group="phenotype"), dict(by="phenotype")),
    ("kaplan_meier conf_level", "patients", als.kaplan_meier,
     dict(conf_level=0.9), dict(ci_level=0.9)),
    ("logrank_test time", "patients", lambda d, **k: als.logrank_test(d, by="sex", **k),
     dict(time="survival_months"), dict(survival_time="survival_months")),
    ("logrank_test group", "patients", als.logrank_test,
     dict(group="phenotype"), dict(by="phenotype")),
    ("survival_groups time", "cohort", als.survival_groups,
     dict(time="survival_months"), dict(survival_time="survival_months")),
    ("survival_groups group", "cohort", als.survival_groups,
     dict(group="group"), dict(diagnosis="group")),
    ("fit_cox conf_level", "patients", lambda d, **k: als.fit_cox(d, F_COX, **k),
     dict(conf_level=0.9), dict(ci_level=0.9)),
    ("fit_cox_time_varying visits", "patients",
     lambda d, **k: als.fit_cox_time_varying(formula=F_COX, **k),
     dict(visits="patients"), dict(data="patients")),
    ("fit_cox_time_varying conf_level", "patients",
     lambda d, **k: als.fit_cox_time_varying(d, F_COX, **k),
     dict(conf_level=0.9), dict(ci_level=0.9)),
    ("fit_cox_time_varying years", "patients",
     lambda d, **k: als.fit_cox_time_varying(d, F_COX, **k),
     dict(years="years"), dict(visit_time="years")),
    ("time_varying_intervals visits", "patients",
     lambda d, **k: als.time_varying_intervals(covariates=["wmh_mm3"], **k),
     dict(visits="patients"), dict(data="patients")),
    ("time_varying_intervals time", "patients",
     lambda d, **k: als.time_varying_intervals(d, covariates=["wmh_mm3"], **k),
     dict(time="survival_months"), dict(survival_time="survival_months")),
    ("time_varying_intervals years", "patients",
     lambda d, **k: als.time_varying_intervals(d, covariates=["wmh_mm3"], **k),
     dict(years="years"), dict(visit_time="years")),
    ("baseline_values visits", "patients",
     lambda d, **k: als.baseline_values(columns=["wmh_mm3"], **k),
     dict(visits="patients"), dict(data="patients")),
    ("baseline_values time", "patients",
     lambda d, **k: als.baseline_values(d, columns=["wmh_mm3"], **k),
     dict(time="years"), dict(visit_time="years")),
    ("fit_joint time", "small_joint", lambda d, **k: als.fit_joint(d, F_JOINT, S_JOINT, **k),
     dict(time="years"), dict(visit_time="years")),
]

# (id, fixture name, old positional call, new keyword call)
POSITIONAL: list[tuple[str, str, Callable[..., Any], Callable[..., Any]]] = [
    ("kaplan_meier", "patients",
     lambda d: als.kaplan_meier(d, "survival_months", "event", "sex", "log-log", 0.9),
     lambda d: als.kaplan_meier(d, survival_time="survival_months", event="event", by="sex",
                                conf_type="log-log", ci_level=0.9)),
    ("logrank_test", "patients",
     lambda d: als.logrank_test(d, "survival_months", "event", "phenotype"),
     lambda d: als.logrank_test(d, survival_time="survival_months", event="event",
                                by="phenotype")),
    ("survival_groups", "cohort",
     lambda d: als.survival_groups(d, 12, "survival_months", "event", "subject", "group"),
     lambda d: als.survival_groups(d, cutoff_months=12, survival_time="survival_months",
                                   event="event", subject="subject", diagnosis="group")),
    ("fit_cox", "patients",
     lambda d: als.fit_cox(d, F_COX, "breslow", None, True, None, 0.9),
     lambda d: als.fit_cox(d, F_COX, ties="breslow", strata=None, robust=True, ci_level=0.9)),
    ("fit_cox_time_varying", "patients",
     lambda d: als.fit_cox_time_varying(d, F_COX, "breslow", None, False, 0.9, "subject",
                                        "years", 12.0),
     lambda d: als.fit_cox_time_varying(d, F_COX, ties="breslow", ci_level=0.9,
                                        subject="subject", visit_time="years",
                                        time_scale=12.0)),
    ("time_varying_intervals", "patients",
     lambda d: als.time_varying_intervals(d, ["wmh_mm3"], "survival_months", "event",
                                          "subject", "years"),
     lambda d: als.time_varying_intervals(d, covariates=["wmh_mm3"],
                                          survival_time="survival_months", event="event",
                                          subject="subject", visit_time="years")),
    ("baseline_values", "patients",
     lambda d: als.baseline_values(d, ["wmh_mm3"], "subject", "years"),
     lambda d: als.baseline_values(d, columns=["wmh_mm3"], subject="subject",
                                   visit_time="years")),
    ("fit_lme", "lme_data",
     lambda d: als.fit_lme(d, F_LME, False),
     lambda d: als.fit_lme(d, F_LME, reml=False)),
]


@pytest.fixture(scope="module")
def lme_data() -> pd.DataFrame:
    return example_data(30)


def _fixture(request, name: str) -> pd.DataFrame:
    return request.getfixturevalue(name)


def _resolve(request, kwargs: dict) -> dict:
    """Keyword values naming a fixture (``visits="patients"``) are replaced by the table."""
    return {k: _fixture(request, v) if k in ("visits", "data") else v
            for k, v in kwargs.items()}


@pytest.mark.parametrize("case", RENAMED, ids=[c[0] for c in RENAMED])
def test_old_keyword_warns_and_gives_the_same_result(request, case):
    _, fixture, call, old, new = case
    data = _fixture(request, fixture)
    expected = call(data, **_resolve(request, new))
    with pytest.warns(AlsstatsDeprecationWarning, match=f"{next(iter(old))}= is deprecated"):
        got = call(data, **_resolve(request, old))
    _same(got, expected)


@pytest.mark.parametrize("case", RENAMED, ids=[c[0] for c in RENAMED])
def test_old_and_new_keyword_together_is_a_type_error(request, case):
    _, fixture, call, old, new = case
    data = _fixture(request, fixture)
    with pytest.raises(TypeError, match="got both"):
        call(data, **_resolve(request, old), **_resolve(request, new))


@pytest.mark.parametrize("case", POSITIONAL, ids=[c[0] for c in POSITIONAL])
def test_old_positional_call_warns_and_gives_the_same_result(request, case):
    _, fixture, old_call, new_call = case
    data = _fixture(request, fixture)
    expected = new_call(data)
    with pytest.warns(AlsstatsDeprecationWarning, match="by position is deprecated"):
        got = old_call(data)
    _same(got, expected)


def test_positional_and_keyword_for_the_same_argument_is_a_type_error(patients):
    with pytest.raises(TypeError, match="multiple values"):
        als.kaplan_meier(patients, "survival_months", survival_time="survival_months")
