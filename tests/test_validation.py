"""alsstats.validation: every check, and the one message format (function, column, who)."""

from __future__ import annotations

import datetime
import re

import numpy as np
import pandas as pd
import pytest

import alsstats as als
from alsstats.errors import DataValidationError, DroppedRowsWarning
from alsstats.validation import (
    TableCheck,
    check_time_event,
    drop_missing,
    one_row_per_subject,
    refuse_dates,
    require_columns,
    require_frame,
    require_no_missing,
    require_numeric,
    time_value_kind,
)

# <function>: column '<name>'[ of <table>] ... : the one format every check writes
FORMAT = re.compile(r"^[a-z_]+( \(.*\))?: columns? '[^']+'")


def visits() -> pd.DataFrame:
    return pd.DataFrame({
        "subject": ["S001", "S001", "S017", "S203", "S300"],
        "years": [0.0, 0.5, 0.0, 0.0, 0.0],
        "survival_months": [30.0, 30.0, 12.0, 20.0, 8.0],
        "event": [1.0, 1.0, 0.0, 1.0, 0.0],
        "wmh_mm3": [100.0, 120.0, 90.0, 80.0, 70.0],
    })


def problems(check: TableCheck) -> list[str]:
    for line in check.problems:
        assert FORMAT.match(line), line
    return check.problems


# --- the message format ------------------------------------------------------------------------

def test_missing_values_name_function_column_count_and_subjects():
    table = visits().assign(survival_months=[np.nan, np.nan, np.nan, 20.0, 8.0])
    table.loc[2:3, "survival_months"] = np.nan
    check = TableCheck(table, "kaplan_meier")
    check.no_missing("survival_months")
    assert problems(check) == [
        "kaplan_meier: column 'survival_months' has 4 missing values (subjects S001, S017, S203)"]
    with pytest.raises(DataValidationError, match="1 problem"):
        check.raise_problems()


def test_one_missing_value_is_singular_and_rows_without_subject_column_by_index():
    table = pd.DataFrame({"x": [1.0, np.nan, 3.0]}, index=["a", "b", "c"])
    check = TableCheck(table, "f", table="fit")
    check.no_missing("x", hint="; drop those rows")
    assert check.problems == ["f: column 'x' of fit has 1 missing value (row 'b'); drop those rows"]


def test_visit_rows_are_named_with_their_time_and_value_and_lists_are_cut_at_five():
    table = pd.DataFrame({"subject": [f"S{i}" for i in range(8)], "years": np.arange(8) / 2,
                          "age": [200.0] * 8})
    check = TableCheck(table, "validate_visits", visit_time="years")
    check.within("age", check.numbers("age"), low=18, high=110)
    (line,) = problems(check)
    assert line.startswith("validate_visits: column 'age' must be >= 18 and <= 110; out of range "
                           "at subject S0 (years 0.0) = 200.0, subject S1 (years 0.5) = 200.0")
    assert "S4 (years 2.0)" in line and "S5" not in line and line.endswith("and 3 more rows")


def test_subjects_listed_once_and_cut_at_five():
    table = pd.DataFrame({"subject": [f"S{i}" for i in range(9) for _ in range(2)],
                          "x": np.nan})
    check = TableCheck(table, "f")
    check.no_missing("x")
    assert check.problems == ["f: column 'x' has 18 missing values "
                              "(subjects S0, S1, S2, S3, S4 and 4 more subjects)"]


# --- columns ------------------------------------------------------------------------------------

def test_require_frame_and_columns():
    with pytest.raises(TypeError, match="^my_plot: visits must be a pandas DataFrame, got list"):
        require_frame([1], "my_plot", "visits")
    with pytest.raises(TypeError, match="kaplan_meier: data must be a pandas DataFrame"):
        require_columns({"a": 1}, ["a"], caller="kaplan_meier")
    with pytest.raises(DataValidationError) as info:
        require_columns(visits(), ["subject", "time", None, "group"], caller="kaplan_meier")
    assert info.value.problems == [
        f"kaplan_meier: column '{c}' is missing from data (its columns: subject, years, "
        "survival_months, event, wmh_mm3)" for c in ("time", "group")]
    require_columns(visits(), ["subject", None], caller="kaplan_meier")  # passes


def test_required_and_repeated_column_names():
    table = pd.DataFrame([[1, 2, 3]], columns=["a", "b", "a"])
    check = TableCheck(table, "validate_visits")
    assert check.columns_present(["a", "subject"], required=True) == ["subject"]
    check.unique_column_names()
    assert problems(check) == [
        "validate_visits: column 'subject' is required but missing from the table "
        "(its columns: a, b, a)",
        "validate_visits: column 'a' appears more than once; the other checks used the first"]


def test_numeric_dtype_refuses_text_and_booleans():
    table = pd.DataFrame({"x": ["1", "2"], "flag": [True, False], "y": [1, 2]})
    with pytest.raises(DataValidationError) as info:
        require_numeric(table, ["x", "flag", "y"], caller="plot_forest", table="coefficients")
    assert info.value.problems == [
        "plot_forest: column 'x' of coefficients must be numeric, found dtype object",
        "plot_forest: column 'flag' of coefficients must be numeric, found dtype bool"]
    with pytest.raises(DataValidationError, match="plot_trajectories: column 'years' of visits "
                       r"holds dates or durations \(timedelta values"):
        require_numeric(pd.DataFrame({"years": pd.to_timedelta([1, 2], unit="D")}), ["years"],
                        caller="plot_trajectories", table="visits")


# --- numbers ------------------------------------------------------------------------------------

def test_numbers_parse_text_and_name_what_is_not_a_number_or_infinite():
    table = pd.DataFrame({"subject": ["a", "b", "c", "d"],
                          "x": ["1.5", "soon", np.inf, None]}, dtype=object)
    check = TableCheck(table, "f")
    values = check.numbers("x")
    assert values.dtype == "float64"
    np.testing.assert_array_equal(values.to_numpy(), [1.5, np.nan, np.nan, np.nan])
    assert problems(check) == [
        "f: column 'x' has values that are not numbers at subject b = 'soon'",
        "f: column 'x' has infinite values at subject c = inf"]


def test_numbers_refuse_booleans_unless_allowed_and_complex():
    table = pd.DataFrame({"flag": [True, False], "z": [1 + 2j, 3 + 0j]})
    check = TableCheck(table, "f")
    np.testing.assert_array_equal(check.numbers("flag", allow_bool=True), [1.0, 0.0])
    assert check.problems == []
    check.numbers("flag")
    assert check.numbers("z").isna().all()
    assert problems(check) == [
        "f: column 'flag' is boolean; expected numbers",
        "f: column 'z' holds complex numbers; expected real numbers (the imaginary part would "
        "be thrown away)"]


@pytest.mark.parametrize(("values", "kind"), [
    (pd.to_datetime(["2020-01-01", "2021-01-01"]), "datetime"),
    (pd.to_timedelta([1, 2], unit="D"), "timedelta"),
    (pd.period_range("2020-01", periods=2, freq="M"), "datetime"),
    (pd.array([datetime.date(2020, 1, 1), None], dtype=object), "datetime"),
    (pd.array([np.timedelta64(3, "D"), None], dtype=object), "timedelta"),
    (pd.array([np.datetime64("2020-01-01"), 1.0], dtype=object), "datetime"),
])
def test_dates_and_durations_are_refused_naming_the_kind(values, kind):
    table = pd.DataFrame({"years": values})
    assert time_value_kind(table["years"]) == kind
    check = TableCheck(table, "f")
    assert check.numbers("years", unit="years since the baseline MRI").isna().all()
    (line,) = problems(check)
    assert line.startswith(f"f: column 'years' holds dates or durations ({kind} values, e.g. ")
    assert "convert to years since the baseline MRI first" in line
    with pytest.raises(DataValidationError, match=r"^1 problem.*\n  - cox: column 'years' holds "
                                                  "dates or durations"):
        refuse_dates(table, ["years"], caller="cox")


def test_plain_numbers_and_text_are_not_dates():
    assert time_value_kind(pd.Series([1.0, 2.0])) is None
    assert time_value_kind(pd.Series(["2020-01-01", None], dtype=object)) is None
    refuse_dates(pd.DataFrame({"t": [1, 2]}), ["t"], caller="cox")


# --- values -------------------------------------------------------------------------------------

def test_within_bounds_open_bound_and_whole_numbers():
    table = pd.DataFrame({"subject": ["a", "b", "c", "d"], "x": [-1.0, 0.0, 2.5, np.nan]})
    check = TableCheck(table, "f")
    check.within("x", table["x"], low=0, why=" (times)")
    check.within("x", table["x"], low=0, low_open=True)
    check.within("x", table["x"], high=2, integer=True)
    assert problems(check) == [
        "f: column 'x' must be >= 0 (times); negative at subject a = -1.0",
        "f: column 'x' must be > 0; out of range at subject a = -1.0, subject b = 0.0",
        "f: column 'x' must be <= 2; out of range at subject c = 2.5",
        "f: column 'x' must be whole numbers; fractional at subject c = 2.5"]


def test_levels_refuse_others_and_missing_and_return_categorical():
    table = pd.DataFrame({"subject": ["a", "b", "c"], "sex": ["F", "male", None]})
    check = TableCheck(table, "validate_visits")
    sex = check.levels("sex", ("F", "M"))
    assert list(sex.categories) == ["F", "M"] and sex[0] == "F" and pd.isna(sex[1])
    assert problems(check) == [
        "validate_visits: column 'sex' allows only 'F', 'M'; found ['male'] at subject b = 'male'",
        "validate_visits: column 'sex' has 1 missing value (subject c)"]
    check = TableCheck(table, "f")
    check.levels("sex", ("F", "M", "male"), allow_missing=True)
    assert check.problems == []


def test_zero_one_events():
    table = pd.DataFrame({"subject": ["a", "b", "c"], "event": [0, 2, np.nan]})
    check = TableCheck(table, "fit_cox")
    check.zero_one("event", table["event"])
    assert problems(check) == [
        "fit_cox: column 'event' must be 0 (censored) or 1 (event); found at subject b = 2.0"]


def test_alsfrs_items_range_whole_numbers_and_5a_or_5b():
    items = pd.DataFrame({"alsfrs_1": [4, 5, 3.5], "alsfrs_5a": [4, np.nan, 2],
                          "alsfrs_5b": [np.nan, 3, 1]})
    check = TableCheck(items, "alsfrs_total", table="items")
    parsed = check.alsfrs_items(["alsfrs_1", "alsfrs_5a", "alsfrs_5b"])
    assert set(parsed) == {"alsfrs_1", "alsfrs_5a", "alsfrs_5b"}
    assert problems(check) == [
        "alsfrs_total: column 'alsfrs_1' of items must be >= 0 and <= 4 (ALSFRS-R items are "
        "scored 0..4); out of range at row 1 = 5.0",
        "alsfrs_total: column 'alsfrs_1' of items must be whole numbers; fractional at row 2 = 3.5",
        "alsfrs_total: columns 'alsfrs_5a', 'alsfrs_5b': only one of 5a (no gastrostomy) and 5b "
        "(gastrostomy) may be answered; both at row 2"]


# --- rows and subjects --------------------------------------------------------------------------

def test_unique_rows_and_constant_within_subject():
    table = visits()
    table.loc[1, "years"] = 0.0
    table.loc[1, "survival_months"] = 31.0
    check = TableCheck(table, "validate_visits", visit_time="years")
    check.unique_rows(["subject", "years"])
    assert not check.constant_within_subject("survival_months", hint="; one per subject")
    assert check.constant_within_subject("event")
    assert problems(check) == [
        "validate_visits: columns 'subject', 'years' must be unique together (one row per subject "
        "and years); repeated at subject S001 (years 0.0), subject S001 (years 0.0)",
        "validate_visits: column 'survival_months' varies within subject (it is subject-level: "
        "one value per subject): subject S001 has [30.0, 31.0]; one per subject"]


def test_missing_beside_a_value_counts_as_varying():
    table = visits().astype({"survival_months": object})
    table.loc[1, "survival_months"] = None
    check = TableCheck(table, "f")
    check.constant_within_subject("survival_months")
    assert check.problems[0].endswith("subject S001 has [30.0, NaN]")


def test_subject_ids_are_text():
    floats = pd.DataFrame({"subject": [1.0, 2.0]})
    check = TableCheck(floats, "validate_visits")
    check.subject_ids_text()
    assert "column 'subject' holds floating-point numbers (e.g. 1.0)" in problems(check)[0]
    mixed = pd.DataFrame({"subject": [1, "1", 7, "007", "S9"]}, dtype=object)
    check = TableCheck(mixed, "validate_visits")
    check.subject_ids_text()
    (line,) = problems(check)
    assert "1 (int) and '1' (text); 7 (int) and '007' (text); subject ids are text" in line
    text = TableCheck(pd.DataFrame({"subject": ["007", "7"]}), "validate_visits")
    text.subject_ids_text()
    assert text.problems == []


# --- the survival helpers -----------------------------------------------------------------------

def test_check_time_event_names_every_problem():
    table = pd.DataFrame({"subject": ["a", "b", "c", "d", "e"],
                          "time": [-3.0, np.inf, 5.0, 6.0, 2.0],
                          "event": [0, 1, 2, True, 0]}, dtype=object)
    with pytest.raises(DataValidationError) as info:
        check_time_event(table, "time", "event", subject="subject", caller="kaplan_meier")
    assert info.value.problems == [
        "kaplan_meier: column 'time' has infinite values at subject b = inf",
        "kaplan_meier: column 'time' must be >= 0 (times are measured from baseline); negative "
        "at subject a = -3.0",
        "kaplan_meier: column 'event' must be 0 (censored) or 1 (event); found at subject c = 2"]
    booleans = pd.DataFrame({"time": [1.0, 2.0], "event": [True, False]})
    check_time_event(booleans, "time", "event", caller="kaplan_meier")  # passes


def test_check_time_event_intervals_and_dates():
    table = pd.DataFrame({"id": ["a", "b"], "start": [0.0, 4.0], "stop": [2.0, 4.0],
                          "event": [0, 1]})
    with pytest.raises(DataValidationError, match=r"fit_cox: columns 'start', 'stop': every "
                       r"\(start, stop\] interval must have positive length; start >= stop at "
                       r"subject b$"):
        check_time_event(table, "stop", "event", start="start", subject="id", caller="fit_cox")
    dated = table.assign(stop=pd.to_timedelta([2, 4], unit="D"))
    with pytest.raises(DataValidationError, match="'stop' holds dates or durations"):
        check_time_event(dated, "stop", "event", caller="fit_cox")


def test_one_row_per_subject_collapses_or_names_varying_columns():
    table = visits()
    collapsed = one_row_per_subject(table, ["survival_months", "event"], "subject", caller="f")
    assert collapsed["subject"].tolist() == ["S001", "S017", "S203", "S300"]
    assert one_row_per_subject(table, ["wmh_mm3"], None, caller="f") is table
    with pytest.raises(DataValidationError) as info:
        one_row_per_subject(table, ["survival_months", "event", "wmh_mm3"], "subject",
                            caller="fit_cox")
    (line,) = info.value.problems
    assert line.startswith("fit_cox: column 'wmh_mm3' varies within subject")
    assert "subject S001 has [100.0, 120.0]; use baseline_values()" in line


def test_drop_missing_warns_with_counts_and_who_and_leaves_input_alone():
    table = visits()
    table.loc[[0, 3], "wmh_mm3"] = np.nan
    before = table.copy()
    with pytest.warns(DroppedRowsWarning) as caught:
        kept = drop_missing(table, ["survival_months", "wmh_mm3"], "subject", caller="fit_cox")
    assert str(caught[0].message) == (
        "fit_cox: left out 2 of 5 rows (2 subjects) with missing values (missing per column: "
        "{'wmh_mm3': 2}; subjects S001, S203).")
    assert kept.index.tolist() == [1, 2, 4]
    pd.testing.assert_frame_equal(table, before)
    assert drop_missing(kept, ["wmh_mm3"], "subject", caller="fit_cox") is kept


def test_require_no_missing_names_rows_without_subject():
    with pytest.raises(DataValidationError,
                       match=r"^1 problem.*\n  - survival_groups: column 'subject' of data has "
                             r"2 missing values \(rows 1, 2\)$"):
        require_no_missing(pd.DataFrame({"subject": ["a", None, None]}), ["subject"],
                           caller="survival_groups", subject=None)


# --- the four callers write the same format ----------------------------------------------------

def test_data_clinical_survival_and_plotting_share_the_format():
    bad = visits().assign(group="ALS", age=61.0, sex="F")
    bad.loc[2, "survival_months"] = -1.0
    with pytest.raises(DataValidationError) as data_error:
        als.validate_visits(bad)
    with pytest.raises(DataValidationError) as km_error:
        als.kaplan_meier(bad.drop_duplicates("subject"))
    items = pd.DataFrame({f"alsfrs_{i}": [4.0] for i in range(1, 13) if i != 5})
    items["alsfrs_5a"] = 7.0
    with pytest.raises(DataValidationError) as item_error:
        als.alsfrs_total(items)
    with pytest.raises(DataValidationError) as plot_error:
        als.plot_trajectories(bad.assign(wmh_mm3="big"), y="wmh_mm3")
    lines = [*data_error.value.problems, *km_error.value.problems, *item_error.value.problems,
             *plot_error.value.problems]
    assert [line.split(":")[0] for line in lines] == [
        "validate_visits", "kaplan_meier", "alsfrs_total", "plot_trajectories"]
    for line in lines:
        assert FORMAT.match(line), line
    assert "subject S017 (years 0.0) = -1.0" in data_error.value.problems[0]
    assert "subject S017 = -1.0" in km_error.value.problems[0]
    assert "'alsfrs_5a' of items must be >= 0 and <= 4" in item_error.value.problems[0]


def test_time_varying_intervals_check_visit_times_with_the_same_format():
    visits = pd.DataFrame({"subject": ["a", "a", "b"], "years": [0.0, 0.0, -0.5],
                           "survival_months": [20.0, 20.0, 30.0], "event": [1, 1, 0]})
    with pytest.raises(DataValidationError,
                       match=r"time_varying_intervals: column 'years' must be >= 0 \(visit "
                             r"times since baseline\); negative at subject b \(years -0\.5\)"):
        als.time_varying_intervals(visits, covariates=[])
    with pytest.raises(DataValidationError, match=r"time_varying_intervals: columns 'subject', "
                       r"'years' must be unique together .* subject a \(years 0\.0\), subject a"):
        als.time_varying_intervals(visits.assign(years=[0.0, 0.0, 0.5]), covariates=[])


def test_joint_model_names_a_missing_column_in_the_same_format():
    cohort = als.load_example_cohort().drop(columns="survival_months")
    with pytest.raises(DataValidationError, match=r"^1 problem.*\n  - fit_joint: column "
                       r"'survival_months' is missing from data \(its columns: subject, years"):
        als.fit_joint(cohort, "wmh_mm3 ~ years", "Surv(survival_months, event) ~ age")


def test_rows_missing_their_subject_or_visit_time_are_named_without_it():
    table = pd.DataFrame({"subject": ["S1", None, "S3"], "years": [0.0, 0.5, np.nan]})
    check = TableCheck(table, "validate_visits", visit_time="years")
    check.no_missing("subject")
    check.no_missing("years")
    assert problems(check) == [
        "validate_visits: column 'subject' has 1 missing value (row 1 (years 0.5))",
        "validate_visits: column 'years' has 1 missing value (subject S3)"]
