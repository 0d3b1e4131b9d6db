"""p_adjust against R's p.adjust (tests/reference/inference.R -> inference.json)."""

import json
from pathlib import Path

import numpy as np
import pytest

from alsstats import p_adjust
from alsstats.multiplicity import P_ADJUST_METHODS

REF = json.loads((Path(__file__).parent / "reference" / "inference.json").read_text())["p_adjust"]


@pytest.mark.parametrize("method", P_ADJUST_METHODS)
def test_p_adjust_matches_r(method):
    got = p_adjust(REF["p"], method=method)
    np.testing.assert_allclose(got, REF[method], rtol=0, atol=1e-14)


def test_p_adjust_keeps_nan_and_shape():
    p = np.array([[0.01, np.nan], [0.04, 0.03]])
    got = p_adjust(p, "holm")
    assert got.shape == p.shape and np.isnan(got[0, 1])
    np.testing.assert_allclose(got[~np.isnan(p)], p_adjust([0.01, 0.04, 0.03], "holm"))


def test_p_adjust_rejects_bad_input():
    with pytest.raises(ValueError, match="method"):
        p_adjust([0.1], "tukey")
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        p_adjust([0.1, 1.5])


def test_p_adjust_orders_fwer_methods():
    rng = np.random.default_rng(3)
    p = rng.uniform(size=30) ** 2
    bonf, holm, hoch, hommel = (p_adjust(p, m) for m in ("bonferroni", "holm", "hochberg",
                                                          "hommel"))
    assert np.all(holm <= bonf + 1e-15) and np.all(hoch <= holm + 1e-15)
    assert np.all(hommel <= hoch + 1e-15) and np.all(p_adjust(p, "BH") <= hoch + 1e-15)
