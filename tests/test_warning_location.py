"""Package warnings point at the caller's line, also through the deprecation shims."""

from __future__ import annotations

import warnings

import numpy as np

import alsstats as als
from alsstats.errors import DroppedRowsWarning, UnclassifiedSubjectsWarning


def _caught(call):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        call()
    return caught


def test_dropped_rows_warning_points_at_the_caller():
    visits = als.load_example_cohort()
    visits.loc[visits.index[:3], "age"] = np.nan
    caught = _caught(lambda: als.fit_lme(visits, "wmh_mm3 ~ group * years + age + (1 | subject)"))
    dropped = [w for w in caught if issubclass(w.category, DroppedRowsWarning)]
    assert dropped, [str(w.message) for w in caught]
    assert dropped[0].filename == __file__


def test_warning_through_a_deprecation_shim_points_at_the_caller():
    visits = als.load_example_cohort()
    # old keyword spelling: the shim adds a frame, the warnings still name this file
    caught = _caught(lambda: als.survival_groups(visits, time="survival_months"))
    categories = {w.category for w in caught}
    assert als.AlsstatsDeprecationWarning in categories
    assert UnclassifiedSubjectsWarning in categories
    assert all(w.filename == __file__ for w in caught
               if issubclass(w.category, als.AlsstatsWarning)), [(w.category, w.filename)
                                                                for w in caught]
