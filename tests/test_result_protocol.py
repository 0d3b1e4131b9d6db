"""Every result object has the same shape (issue 14, "One result protocol").

``summary()`` returns a :class:`alsstats.Summary` whose text holds the result's own numbers and
whose HTML has no index column and no scientific notation; ``to_frame()`` starts with the
standard columns; ``method`` is a dict; ``ci_level``, ``n_obs`` and ``n_subjects`` are present
and right (``n_subjects`` counted from the data here, independently); results are frozen.
Each result is a real fit of the shipped example cohort (or lme4-style example data).
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import alsstats as als
from alsstats.errors import AlsstatsDeprecationWarning, UnclassifiedSubjectsWarning
from alsstats.formatting import format_p_value
from alsstats.lme.examples import example_data
from alsstats.summary import STANDARD_COLUMNS, Summary, lines, render_summary, table

REFERENCE = Path(__file__).parent / "reference"

_CACHE: dict[str, object] = {}


def cohort() -> pd.DataFrame:
    if "cohort" not in _CACHE:
        _CACHE["cohort"] = als.load_example_cohort()
    return _CACHE["cohort"]


def patients() -> pd.DataFrame:
    visits = cohort()
    return visits[visits["group"] == "ALS"]


def subjects_with(data: pd.DataFrame, columns: list[str]) -> int:
    """Subjects with at least one row complete in ``columns`` (counted with pandas)."""
    return int(data.dropna(subset=columns)["subject"].nunique())


def lme_fit():
    if "lme" not in _CACHE:
        _CACHE["lme"] = als.fit_lme(cohort(), "wmh_mm3 ~ group * years + age + sex + (1 | subject)",
                                    ci_level=0.9)
    return _CACHE["lme"]


def one_row_per_subject(data: pd.DataFrame) -> pd.DataFrame:
    return data.drop_duplicates("subject")


# Each case: (name, build -> result, expected n_subjects, expected n_obs, expected ci_level)
def _lme():
    fit = lme_fit()
    cols = ["wmh_mm3", "group", "years", "age", "sex"]
    return fit, subjects_with(cohort(), cols), len(cohort().dropna(subset=cols)), 0.9


def _lrt():
    d = example_data()
    small = als.fit_lme(d, "y ~ group + years + (1 | subject)")
    big = als.fit_lme(d, "y ~ group * years + (1 | subject)")
    return als.compare_lme(small, big), d["subject"].nunique(), len(d), None


def _bootstrap():
    d = example_data()
    fit = als.fit_lme(d, "y ~ group * years + (1 | subject)")
    return fit.bootstrap(n=30, seed=3, ci_level=0.8), d["subject"].nunique(), len(d), 0.8


def _robust():
    fit = lme_fit()
    n, n_subjects = fit.nobs, cohort()["subject"].nunique()
    return fit.robust("CR2"), n_subjects, n, 0.9


def _cox():
    base = one_row_per_subject(patients())
    cox = als.fit_cox(base, "Surv(survival_months, event) ~ age + sex")
    return cox, base["subject"].nunique(), len(base), 0.95


def _cox_time_varying():
    cox = als.fit_cox_time_varying(patients(), "Surv(survival_months, event) ~ wmh_mm3")
    return cox, patients()["subject"].nunique(), len(cox.intervals), 0.95


def _kaplan_meier():
    base = one_row_per_subject(patients())
    km = als.kaplan_meier(base, by="sex")
    return km, base["subject"].nunique(), len(base), 0.95


def _logrank():
    base = one_row_per_subject(patients())
    test = als.logrank_test(base, by="sex")
    return test, base["subject"].nunique(), len(base), None


def _survival_groups():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnclassifiedSubjectsWarning)
        groups = als.survival_groups(cohort())
    n = cohort()["subject"].nunique()
    return groups, n, n, None


def _joint():
    fit = als.fit_joint(patients(), "wmh_mm3 ~ years + age + sex + (1 + years | subject)",
                        "Surv(survival_months / 12, event) ~ age + sex", visit_time="years")
    return fit, patients()["subject"].nunique(), len(patients()), 0.95


def _analysis():
    result = als.wmh_progression(cohort())
    cols = ["wmh_mm3", "group", "years", "age", "sex"]
    return result, subjects_with(cohort(), cols), len(cohort().dropna(subset=cols)), 0.95


def _survival_analysis():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnclassifiedSubjectsWarning)
        result = als.survival_analysis(cohort())
    followed = patients().dropna(subset=["survival_months", "event"])
    kept = patients()[patients()["subject"].isin(followed["subject"])]
    return result, kept["subject"].nunique(), len(kept), 0.95


def _marginal_means():
    means = als.marginal_means(lme_fit(), "group", df_method="satterthwaite", ci_level=0.9)
    return means, lme_fit().n_groups, lme_fit().nobs, 0.9


def _contrasts():
    means = als.marginal_trends(lme_fit(), "group", "years", df_method="satterthwaite")
    return als.contrasts(means, "pairwise"), lme_fit().n_groups, lme_fit().nobs, None


def _baseline_table():
    return als.baseline_characteristics(cohort()), cohort()["subject"].nunique(), \
        len(cohort()), None


CASES = {
    "LMEResult": _lme, "LRTResult": _lrt, "BootstrapResult": _bootstrap,
    "RobustResult": _robust, "CoxResult": _cox, "CoxResult-time-varying": _cox_time_varying,
    "KaplanMeierResult": _kaplan_meier, "LogRankResult": _logrank,
    "SurvivalGroups": _survival_groups, "JointResult": _joint, "AnalysisResult": _analysis,
    "AnalysisResult-survival": _survival_analysis,
    "MarginalMeans": _marginal_means, "ContrastResult": _contrasts,
    "BaselineTable": _baseline_table,
}


@pytest.fixture(scope="module", params=list(CASES))
def case(request):
    key = f"case:{request.param}"
    if key not in _CACHE:
        _CACHE[key] = CASES[request.param]()
    return request.param, *_CACHE[key]


# ------------------------------------------------------------------ helpers
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?(?:e[-+]?\d+)?")


def numbers_in(text: str) -> np.ndarray:
    return np.array([float(m.replace(",", "")) for m in _NUMBER.findall(text)])


def shown(value: float, numbers: np.ndarray) -> bool:
    """Whether ``value`` appears among ``numbers`` to the 4 significant digits a table shows,
    or to the 3 decimals R prints a t value with."""
    if not math.isfinite(value):
        return True
    return bool(np.any(np.abs(numbers - value) <= max(6e-4 * abs(value), 5.01e-4)))


def key_values(name: str, result) -> list[float]:
    """The numbers a reader must find in the summary, from the result's own tables."""
    if name in ("LMEResult", "RobustResult", "CoxResult", "CoxResult-time-varying"):
        frame = result.coefficients
        return [*frame["estimate"], *frame["std_error"], *frame["statistic"]]
    if name == "LRTResult":
        return [result.statistic, *result.table["aic"], *result.table["loglik"]]
    if name == "BootstrapResult":
        return [*result.ci["estimate"], *result.ci["ci_low"], *result.ci["ci_high"]]
    if name == "KaplanMeierResult":
        return [*result.median["median"], *result.median["ci_low"], *result.median["n"]]
    if name == "LogRankResult":
        return [result.statistic, *result.table["expected"], *result.table["observed"]]
    if name == "SurvivalGroups":
        return [*result.counts["n_subjects"], result.cutoff_months]
    if name == "JointResult":
        return [*result.longitudinal["estimate"], *result.survival["estimate"],
                *result.baseline["estimate"], result.loglik]
    if name.startswith("AnalysisResult"):
        return [*result.effect["estimate"], *result.effect["std_error"],
                *result.counts["n_subjects"]]
    if name in ("MarginalMeans", "ContrastResult"):
        return [*result.table["estimate"], *result.table["std_error"], *result.table["df"]]
    if name == "BaselineTable":
        return list(result.table["value"].dropna())
    raise AssertionError(name)


# ------------------------------------------------------------------ the protocol
def test_summary_is_a_summary_holding_the_results_numbers(case):
    name, result, *_ = case
    summary = result.summary()
    assert isinstance(summary, Summary)
    assert str(summary) == summary.text == repr(summary)
    assert summary.title and summary.text.strip()
    numbers = numbers_in(summary.text)
    missing = [v for v in key_values(name, result) if not shown(float(v), numbers)]
    assert not missing, f"{name}: not in the summary text: {missing[:5]}"


def test_summary_html_has_no_index_column_and_no_scientific_notation(case):
    name, result, *_ = case
    markup = result.summary()._repr_html_()
    assert markup == result.summary().as_html()
    assert markup.startswith("<div") and "<table" in markup
    assert "<th></th>" not in markup and "<th style='text-align: left'></th>" not in markup
    assert not re.search(r"\d[eE][-+]?\d", markup), name
    for body in re.findall(r"<tbody>(.*?)</tbody>", markup):
        first = [re.sub("<[^>]+>", "", cell) for cell in
                 re.findall(r"<tr><td[^>]*>(.*?)</td>", body)]
        if len(first) > 1:  # a 0..n-1 first column would be a pandas index
            assert first != [str(i) for i in range(len(first))], name


def test_to_frame_starts_with_the_standard_columns(case):
    name, result, *_ = case
    frame = result.to_frame()
    assert list(frame.columns[:8]) == STANDARD_COLUMNS
    assert isinstance(frame.index, pd.RangeIndex)
    assert all(pd.api.types.is_float_dtype(frame[c]) for c in STANDARD_COLUMNS[1:])
    assert frame["term"].map(type).eq(str).all() and len(frame) > 0


def test_to_frame_values_are_the_results_own(case):
    name, result, *_ = case
    frame = result.to_frame()
    if name in ("LMEResult", "RobustResult", "CoxResult", "CoxResult-time-varying"):
        own = result.coefficients
        assert list(frame["term"]) == list(own.index)
        for column in ("estimate", "std_error", "statistic", "p_value", "ci_low", "ci_high"):
            np.testing.assert_array_equal(frame[column], own[column])
    elif name == "KaplanMeierResult":
        assert list(frame["term"]) == [str(g) for g in result.median["group"]]
        np.testing.assert_array_equal(frame["estimate"], result.median["median"])
        np.testing.assert_array_equal(frame["ci_high"], result.median["ci_high"])
        assert frame["p_value"].isna().all()
    elif name == "LogRankResult":
        row = frame.iloc[0]
        assert row["term"] == "log-rank" and row["statistic"] == result.statistic
        assert row["df"] == result.df and row["p_value"] == result.p_value
        assert math.isnan(row["estimate"])
    elif name == "JointResult":
        np.testing.assert_array_equal(frame.loc[frame["part"] == "survival", "estimate"],
                                      result.survival["estimate"])
        assert frame["df"].isna().all()
    elif name.startswith("AnalysisResult"):
        np.testing.assert_array_equal(frame["estimate"], result.effect["estimate"])
        assert list(frame["term"]) == list(result.effect.index)
    elif name == "MarginalMeans":
        assert list(frame["term"]) == result.labels
        np.testing.assert_array_equal(frame["ci_low"], result.table["ci_low"])
    elif name == "ContrastResult":
        assert list(frame["term"]) == list(result.table["contrast"])
        np.testing.assert_array_equal(frame["p_value"], result.table["p_value"])
    elif name == "BootstrapResult":
        assert list(frame["term"]) == list(result.ci["term"])
        np.testing.assert_array_equal(frame["ci_low"], result.ci["ci_low"])
    elif name == "LRTResult":
        assert list(frame["term"]) == ["small", "big"]
        assert frame["statistic"].iloc[1] == result.statistic
    elif name == "SurvivalGroups":
        assert list(frame["term"]) == ["short", "long", "unclassified", "control"]
        assert list(frame["n_subjects"]) == list(result.counts["n_subjects"])
    elif name == "BaselineTable":
        np.testing.assert_array_equal(frame["estimate"], result.table["value"])
        assert "sex: F" in set(frame["term"])


def test_method_is_a_dict_and_counts_and_level_are_right(case):
    name, result, n_subjects, n_obs, ci_level = case
    assert isinstance(result.method, dict) and result.method
    assert result.n_subjects == n_subjects, name
    assert result.n_obs == n_obs, name
    assert result.ci_level == ci_level, name


def test_results_are_frozen(case):
    name, result, *_ = case
    assert dataclasses.is_dataclass(result) and type(result).__dataclass_params__.frozen
    first = dataclasses.fields(result)[0].name
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(result, first, None)


@pytest.mark.parametrize("name", ["KaplanMeierResult", "CoxResult"])
def test_conf_level_attribute_is_deprecated(name):
    result = CASES[name]()[0]
    with pytest.warns(AlsstatsDeprecationWarning, match="ci_level"):
        level = result.conf_level
    assert level == result.ci_level == 0.95


def test_lme_method_dict_and_its_readers():
    fit = lme_fit()
    assert fit.method == {"estimation": "REML", "df_method": "satterthwaite", "ci_level": 0.9,
                          "formula": fit.formula, "optimizer": fit.optimizer["name"]}
    assert fit.estimation == "REML" and fit.nobs == fit.n_obs
    ml = fit.refit_ml()
    assert ml.estimation == "ML" and ml.method["estimation"] == "ML"
    assert ml.refit_ml() is ml


def test_lme_summary_text_is_the_printout():
    from alsstats.lme.printout import lmer_summary_text

    fit = lme_fit()
    assert fit.summary().text == lmer_summary_text(fit)
    assert "REML criterion at convergence" in fit.summary().text


def test_kenward_roger_fit_is_frozen_with_its_own_table():
    from alsstats.lme.kenward_roger import kenward_roger_coefficients

    d = example_data()
    kr = als.fit_lme(d, "y ~ group * years + (1 + years | subject)", df_method="kenward-roger")
    satt = als.fit_lme(d, "y ~ group * years + (1 + years | subject)")
    assert kr.method["df_method"] == "kenward-roger"
    pd.testing.assert_frame_equal(kr.coefficients, kenward_roger_coefficients(satt))
    pd.testing.assert_frame_equal(kr.vcov, satt.vcov)
    np.testing.assert_array_equal(kr.to_frame()["df"], kr.coefficients["df"])


# ------------------------------------------------------------------ the renderer
def test_render_summary_text_and_html():
    frame = pd.DataFrame({"term": ["a", "b"], "estimate": [1234.5678, -0.000012345],
                          "p_value": [3e-20, 0.0456]}, index=[7, 8])
    s = render_summary("T", [lines("Head", {"n": 3, "skip": None}), table("Rows", frame)])
    assert s.text.splitlines()[:4] == ["T", "=", "Head", "n: 3"]
    assert "skip" not in s.text
    assert "1235" in s.text and "-0.0000123" in s.text
    assert "< 0.001" in s.text and "0.046" in s.text
    html = s.as_html()
    assert "index" not in html and ">7<" not in html  # the default index is not shown
    assert "1,235" in html and "&lt; 0.001" in html and "e-" not in html


def test_render_summary_r_style_p():
    frame = pd.DataFrame({"term": ["a", "b"], "p_value": [3e-20, 0.0456]})
    s = render_summary("T", [table(None, frame)], p_style="r")
    assert "<2e-16" in s.text and "0.0456" in s.text


# ------------------------------------------------------------------ p values
def test_format_p_value_paper_style():
    assert format_p_value(1.137e-106) == "< 0.001"
    assert format_p_value(0.00099) == "< 0.001"
    assert format_p_value(0.001) == "0.001"
    assert format_p_value(0.63231) == "0.632"
    assert format_p_value(float("nan")) == "—"
    assert format_p_value([0.5, 1e-5]) == ["0.500", "< 0.001"]
    assert format_p_value(0.0123, prefix="p") == "p = 0.012"
    assert format_p_value(1e-8, prefix="p") == "p < 0.001"
    assert format_p_value(1e-30, style="r", prefix="p") == "p <2e-16"


def test_format_p_value_r_style_matches_r():
    """R 4.2's ``format.pval(p, digits = 3)`` on single values and on columns
    (tests/reference/format_pval.R)."""
    ref = json.loads((REFERENCE / "format_pval.json").read_text())
    for value, want in zip(ref["single"]["p"], ref["single"]["text"], strict=True):
        assert format_p_value(value, style="r") == want, value
    for case in ref["vectors"]:
        assert format_p_value(case["p"], style="r") == case["text"], case["p"]


def test_format_p_value_rejects_unknown_style_and_text():
    with pytest.raises(ValueError, match="style"):
        format_p_value(0.1, style="apa")
    with pytest.raises(TypeError):
        format_p_value("0.1")


def test_kaplan_meier_plot_and_report_caption_print_p_alike():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from alsstats.pipeline import _p

    base = one_row_per_subject(patients())
    km = als.kaplan_meier(base, by="sex")
    test = als.logrank_test(base, by="sex")
    ax = als.plot_kaplan_meier(km, logrank=test)
    note = next(t for t in ax.texts if t.get_gid() == "logrank").get_text()
    caption_p = _p(test.p_value)
    assert note.endswith(caption_p) and caption_p == format_p_value(test.p_value, prefix="p")
    plt.close(ax.figure)
