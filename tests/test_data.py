"""The visit-table contract: validate_visits and read_visits."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import alsstats as als
from alsstats.data import read_visits, validate_visits

ITEMS = [f"alsfrs_{i}" for i in (1, 2, 3, 4)] + ["alsfrs_5a", "alsfrs_5b"] + [
    f"alsfrs_{i}" for i in range(6, 13)
]


def good_table(n_subjects: int = 6, seed: int = 1) -> pd.DataFrame:
    """A small valid visit table built by hand (independent of the simulator)."""
    rng = np.random.default_rng(seed)
    subjects = [f"S{i:02d}" for i in range(n_subjects)]
    rows = []
    for k, subject in enumerate(subjects):
        is_als = k % 2 == 0
        for years in (0.0, 0.3333, 0.6667):
            items = {c: float(rng.integers(2, 5)) if is_als else np.nan for c in ITEMS}
            items["alsfrs_5b"] = np.nan
            total = sum(v for v in items.values() if not np.isnan(v)) if is_als else np.nan
            rows.append(
                {
                    "subject": subject,
                    "years": years,
                    "group": "ALS" if is_als else "control",
                    "age": 50.0 + k,
                    "sex": "M" if k % 3 else "F",
                    "site": "EDM",
                    "wmh_mm3": 1000.0 + 100 * k + 300 * years,
                    "flair_cst": 1.1,
                    "alsfrs_r": total,
                    **items,
                    "phenotype": "classic" if is_als else np.nan,
                    "umn_score": 3.0 if is_als else 0.0,
                    "survival_months": 30.0 if is_als else np.nan,
                    "event": 1.0 if is_als else np.nan,
                    "extra_column": "kept",
                }
            )
    return pd.DataFrame(rows)


def problems_of(table: pd.DataFrame) -> list[str]:
    with pytest.raises(als.DataValidationError) as info:
        validate_visits(table)
    return info.value.problems


def test_good_table_passes_with_canonical_dtypes():
    table = good_table()
    out = validate_visits(table)
    assert list(out.columns) == list(table.columns)
    assert out.index.equals(table.index)
    assert out["group"].cat.categories.tolist() == ["control", "ALS"]
    assert out["sex"].cat.categories.tolist() == ["F", "M"]
    for column in ("years", "age", "wmh_mm3", "alsfrs_r", "event", "alsfrs_1"):
        assert out[column].dtype == np.float64, column
    assert (out["extra_column"] == "kept").all()


def test_input_is_never_modified():
    table = good_table()
    table["subject"] = np.arange(len(table)) // 3  # integer ids, converted in the copy
    before = table.copy(deep=True)
    out = validate_visits(table)
    pd.testing.assert_frame_equal(table, before)
    assert out["subject"].iloc[0] == "0"
    assert table["subject"].dtype.kind == "i"


def test_input_not_modified_when_refused():
    table = good_table()
    table.loc[0, "age"] = 5.0
    before = table.copy(deep=True)
    problems_of(table)
    pd.testing.assert_frame_equal(table, before)


def test_every_problem_is_reported_at_once():
    table = good_table()
    table.loc[0, "years"] = -1.0
    table.loc[1, "sex"] = "male"
    table.loc[4, "wmh_mm3"] = -3.0
    table.loc[6, "alsfrs_r"] = 49.0
    problems = problems_of(table)
    text = "\n".join(problems)
    assert len(problems) >= 4
    for column in ("'years'", "'sex'", "'wmh_mm3'", "'alsfrs_r'"):
        assert column in text
    assert "subject S00 (years -1.0) = -1.0" in text
    assert "'male'" in text


def test_missing_required_column_named():
    problems = problems_of(good_table().drop(columns=["age"]))
    assert any(p.startswith("validate_visits: column 'age' is required but missing")
               for p in problems)


def test_require_extra_columns():
    with pytest.raises(als.DataValidationError, match="'ecas_executive'"):
        validate_visits(good_table(), require=["ecas_executive"])


def test_duplicate_subject_years_named():
    table = good_table()
    table.loc[1, "years"] = 0.0
    problems = problems_of(table)
    assert any("unique" in p and "subject S00 (years 0.0)" in p for p in problems)


def test_subject_level_columns_constant():
    table = good_table()
    table.loc[2, "survival_months"] = 31.0
    problems = problems_of(table)
    assert any("'survival_months'" in p and "subject S00" in p and "31.0" in p for p in problems)


def test_event_requires_survival_and_values_zero_one():
    table = good_table()
    table["event"] = table["event"].replace(1.0, 2.0)
    problems = problems_of(table)
    assert any("'event'" in p and "2.0" in p for p in problems)
    with pytest.raises(als.DataValidationError, match="'survival_months': required"):
        validate_visits(good_table().drop(columns=["survival_months"]))


def test_items_range_5a_5b_and_total():
    table = good_table()
    table.loc[0, "alsfrs_3"] = 5.0
    table.loc[1, "alsfrs_5b"] = 2.0  # 5a is answered on that row too
    table.loc[2, "alsfrs_r"] = table.loc[2, "alsfrs_r"] - 1
    problems = problems_of(table)
    text = "\n".join(problems)
    assert "'alsfrs_3'" in text
    assert "only one of 5a" in text
    assert "sum of the twelve items" in text and "subject S00 (years 0.6667)" in text


def test_fractional_alsfrs_refused():
    table = good_table()
    table.loc[0, "alsfrs_r"] = 40.5
    assert any("whole numbers" in p for p in problems_of(table))


def test_not_a_dataframe():
    with pytest.raises(TypeError, match="DataFrame"):
        validate_visits([1, 2, 3])  # type: ignore[arg-type]


# --- property-based: corrupt a good table at random, the error names the column ------------

CORRUPTIONS = {
    "years": [-0.5, "soon", np.inf],
    "age": [10.0, 130.0, "old"],
    "sex": ["X", "female"],
    "group": ["ALS ", "patient", "Control"],
    "wmh_mm3": [-1.0, "big"],
    "flair_cst": [-0.2],
    "alsfrs_r": [-1.0, 48.5, 60.0],
    "alsfrs_7": [5.0, 1.5, -1.0],
    "umn_score": [-2.0],
    "event": [2.0, 0.5],
}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    column=st.sampled_from(sorted(CORRUPTIONS)),
    data=st.data(),
)
def test_random_corruption_names_column(column, data):
    table = good_table()
    value = data.draw(st.sampled_from(CORRUPTIONS[column]))
    row = data.draw(st.integers(0, len(table) - 1))
    if column in {"alsfrs_r", "alsfrs_7", "event"} and table.loc[row, "group"] == "control":
        row = 0  # a row where the column is present, so the value is not just a missing one
    table[column] = table[column].astype(object)
    table.loc[row, column] = value
    before = table.copy(deep=True)
    with pytest.raises(als.DataValidationError) as info:
        validate_visits(table)
    assert any(f"'{column}'" in problem for problem in info.value.problems)
    subject = table.loc[row, "subject"]
    assert subject in str(info.value)
    pd.testing.assert_frame_equal(table, before)


@settings(max_examples=25, deadline=None)
@given(drop=st.sampled_from(["subject", "years", "group", "age", "sex"]))
def test_random_missing_required_column(drop):
    with pytest.raises(als.DataValidationError, match=f"'{drop}'"):
        validate_visits(good_table().drop(columns=[drop]))


# --- read_visits -------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".csv.gz", ".parquet"])
def test_read_visits_round_trip(tmp_path, suffix):
    table = good_table()
    table["subject"] = ["0" + s for s in table["subject"]]  # leading zeros must survive
    path = tmp_path / f"visits{suffix}"
    if suffix == ".parquet":
        table.to_parquet(path)
    else:
        table.to_csv(path, sep="\t" if suffix == ".tsv" else ",", index=False)
    out = read_visits(path)
    expected = validate_visits(table)
    pd.testing.assert_frame_equal(out, expected, check_dtype=False)
    assert out["subject"].iloc[0] == "0S00"


def test_read_visits_errors_name_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.csv"):
        read_visits(tmp_path / "nope.csv")
    bad_format = tmp_path / "visits.xlsx"
    bad_format.write_text("x")
    with pytest.raises(ValueError, match="unknown table format"):
        read_visits(bad_format)
    bad = good_table()
    bad.loc[0, "age"] = 200
    path = tmp_path / "bad.csv"
    bad.to_csv(path, index=False)
    with pytest.raises(als.DataValidationError, match="bad.csv") as info:
        read_visits(path)
    assert "'age'" in str(info.value)


# ------------------------------------------------------------------ issue 9 (items 10, 11, 13, 18)


def test_every_problem_reported_without_subject_column():
    table = good_table().drop(columns="subject")
    table.loc[2, "age"] = 250.0
    table.loc[4, "sex"] = "X"
    problems = problems_of(table)
    assert any("column 'subject' is required but missing" in p for p in problems)
    assert any("'age'" in p and "250.0" in p for p in problems)
    assert any("'sex'" in p and "'X'" in p and "row 4" in p for p in problems)


def test_every_problem_reported_without_years_column():
    table = good_table().drop(columns="years")
    table.loc[1, "wmh_mm3"] = -5.0
    problems = problems_of(table)
    assert any("column 'years' is required but missing" in p for p in problems)
    assert any("'wmh_mm3'" in p and "-5.0" in p and "subject S00" in p for p in problems)


def test_every_problem_reported_with_a_repeated_column_name():
    table = good_table()
    table.loc[0, "group"] = "patient"
    table = pd.concat([table, table[["age"]]], axis=1)
    problems = problems_of(table)
    assert any("column 'age' appears more than once" in p for p in problems)
    assert any("'group'" in p and "'patient'" in p for p in problems)


@pytest.mark.parametrize("kind", ["timedelta", "datetime"])
def test_time_as_dates_or_durations_is_refused(kind):
    table = good_table()
    if kind == "timedelta":
        table["years"] = pd.to_timedelta(table["years"] * 365.25, unit="D")
    else:
        table["years"] = pd.Timestamp("2020-01-01") + pd.to_timedelta(table["years"] * 365.25,
                                                                      unit="D")
    problems = problems_of(table)
    assert any("'years'" in p and kind in p and "convert" in p for p in problems)
    as_objects = good_table().astype({"survival_months": object})
    as_objects.loc[0, "survival_months"] = pd.Timedelta(days=900)
    assert any("'survival_months'" in p and "timedelta" in p for p in problems_of(as_objects))


def test_subject_spelled_as_number_and_text_is_refused():
    table = good_table()
    table["subject"] = table["subject"].astype(object)
    table.loc[table["subject"] == "S00", "subject"] = 1
    table.loc[table["subject"] == "S01", "subject"] = "1"
    table.loc[table["subject"] == "S02", "subject"] = 7
    table.loc[table["subject"] == "S03", "subject"] = "007"
    message = "\n".join(problems_of(table))
    assert "1 (int)" in message and "'1' (text)" in message
    assert "7 (int)" in message and "'007' (text)" in message
    # text alone stays text, distinct: '007' and '7' are two subjects
    text = good_table()
    text.loc[text["subject"] == "S00", "subject"] = "007"
    text.loc[text["subject"] == "S01", "subject"] = "7"
    assert set(validate_visits(text)["subject"]) >= {"007", "7"}


def test_read_visits_keeps_subject_text_whatever_dtype_says(tmp_path):
    path = tmp_path / "v.csv"
    path.write_text("subject,years,group,age,sex\n007,0,ALS,60,F\n7,0,ALS,61,M\n")
    assert read_visits(path, dtype={"age": float})["subject"].tolist() == ["007", "7"]
    assert read_visits(path, dtype=str)["subject"].tolist() == ["007", "7"]
    with pytest.raises(ValueError, match="'subject' must be text"):
        read_visits(path, dtype={"subject": int})


def test_repeated_header_in_a_file_is_named(tmp_path):
    path = tmp_path / "v.csv"
    path.write_text("subject,years,group,age,sex,age\nS1,0,ALS,600,F,61\n")
    with pytest.raises(als.DataValidationError,
                       match=r"read_visits \(.*v\.csv\): column 'age' appears more than once") as info:
        read_visits(path)
    assert any("'age'" in p and "600" in p for p in info.value.problems)  # and the rest
    tsv = tmp_path / "v.tsv.gz"
    import gzip

    tsv.write_bytes(gzip.compress(b"subject\tyears\tyears\tgroup\tage\tsex\nS1\t0\t0\tALS\t60\tF\n"))
    with pytest.raises(als.DataValidationError, match=r"column 'years' appears more than once"):
        read_visits(tsv)


def test_complex_numbers_are_refused_not_cast():
    table = good_table()
    table["wmh_mm3"] = table["wmh_mm3"].astype(complex) + 2j
    assert any("'wmh_mm3'" in p and "complex" in p for p in problems_of(table))


def test_float_subject_ids_are_refused():
    table = good_table()
    table["subject"] = table["subject"].str[1:].astype(float)  # 0.0, 1.0, ...: NaN-promoted ids
    assert any("'subject'" in p and "floating-point" in p for p in problems_of(table))
