"""roi_intensity: region means and normalisations against hand computations."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest
from imaging_helpers import save_nifti

from alsstats.errors import DataValidationError, ImageReadError
from alsstats.imaging import roi_intensity

SHAPE = (12, 14, 10)


@pytest.fixture(scope="module")
def scans(tmp_path_factory):
    folder = tmp_path_factory.mktemp("flair")
    rng = np.random.default_rng(11)
    atlas = np.zeros(SHAPE, np.uint8)
    atlas[2:5, 3:9, 2:8] = 1    # "cst"
    atlas[7:10, 3:9, 2:8] = 2   # "cc"
    tissue = np.full(SHAPE, 7, np.uint8)
    tissue[:, 9:, :] = 8        # NAWM
    tissue[0, 9, 0] = 9         # a WMH voxel, not NAWM
    images, tissues, arrays = [], [], []
    for i in range(3):
        flair = rng.normal(100 + 10 * i, 5, SHAPE).astype(np.float32)
        flair[0, 0, 0] = np.nan
        arrays.append(flair)
        images.append(save_nifti(folder / f"flair{i}.nii.gz", flair, zooms=(0.9, 0.9, 3.0)))
        tissues.append(save_nifti(folder / f"seg{i}.nii.gz", tissue, zooms=(0.9, 0.9, 3.0)))
    atlas_path = save_nifti(folder / "atlas.nii.gz", atlas, zooms=(0.9, 0.9, 3.0))
    return {"images": images, "tissues": tissues, "arrays": arrays, "atlas": atlas_path,
            "atlas_array": atlas, "tissue": tissue}


def hand(scans, i):
    flair = scans["arrays"][i].astype(np.float64)
    cst = flair[scans["atlas_array"] == 1].mean()
    cc = flair[scans["atlas_array"] == 2].mean()
    nawm = flair[scans["tissue"] == 8]
    return cst, cc, nawm.mean(), nawm.std(ddof=1), nawm.size


def test_nawm_ratio_and_zscore(scans):
    lookup = {1: "cst", 2: "cc"}
    ratio = roi_intensity(scans["images"], scans["atlas"], reference=scans["tissues"],
                          lookup=lookup, progress=False)
    zscore = roi_intensity(scans["images"], scans["atlas"], "zscore_wm",
                           reference=scans["tissues"], lookup=lookup, progress=False)
    for i in range(3):
        cst, cc, mean, sd, n = hand(scans, i)
        assert ratio.loc[i, "flair_cst"] == pytest.approx(cst / mean, rel=1e-12)
        assert ratio.loc[i, "flair_cc"] == pytest.approx(cc / mean, rel=1e-12)
        assert zscore.loc[i, "flair_cst"] == pytest.approx((cst - mean) / sd, rel=1e-10)
        assert ratio.loc[i, "reference_n_voxels"] == n
        assert ratio.loc[i, "reference_sd"] == pytest.approx(sd, rel=1e-12)
    assert ratio["n_voxels_cst"].tolist() == [3 * 6 * 6] * 3
    assert ratio.attrs["normalize"] == "nawm_ratio"


def test_reference_roi_raw_and_callable(scans):
    raw = roi_intensity(scans["images"], scans["atlas"], None, progress=False)
    by_region = roi_intensity(scans["images"], scans["atlas"], "reference_roi",
                              reference_region=2, progress=False)
    custom = roi_intensity(scans["images"], scans["atlas"],
                           lambda means, image, mask: means - np.nanmedian(image),
                           progress=False)
    for i in range(3):
        cst, cc, *_ = hand(scans, i)
        assert raw.loc[i, "flair_1"] == pytest.approx(cst, rel=1e-12)
        assert by_region.loc[i, "flair_1"] == pytest.approx(cst / cc, rel=1e-12)
        median = np.nanmedian(scans["arrays"][i].astype(np.float64))
        assert custom.loc[i, "flair_2"] == pytest.approx(cc - median, rel=1e-12)


def test_errors(scans, tmp_path):
    with pytest.raises(ValueError, match="needs reference="):
        roi_intensity(scans["images"], scans["atlas"], "nawm_ratio")
    with pytest.raises(ValueError, match="reference_region 5 is not a region"):
        roi_intensity(scans["images"], scans["atlas"], "reference_roi", reference_region=5)
    missing = tmp_path / "gone.nii.gz"
    with pytest.raises(ImageReadError, match="gone.nii.gz: file not found"):
        roi_intensity([missing], scans["atlas"], None, progress=False)
    other = nib.Nifti1Image(np.ones((12, 14, 9), np.uint8), np.eye(4))
    with pytest.raises(DataValidationError, match="different grids"):
        roi_intensity(scans["images"][:1], other, None, progress=False)
    table = roi_intensity([scans["images"][0], missing], scans["atlas"], None,
                          errors="coerce", progress=False)
    assert table["error"].isna().tolist() == [True, False]
    assert np.isnan(table.loc[1, "flair_1"]) and not np.isnan(table.loc[0, "flair_1"])
