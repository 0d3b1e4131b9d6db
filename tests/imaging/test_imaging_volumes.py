"""lesion_volumes: exact counts on label maps built with known counts."""

from __future__ import annotations

import gzip
import sys

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
from imaging_helpers import random_labels, save_minc1, save_nifti

from alsstats.errors import DataValidationError, ImageReadError
from alsstats.imaging import lesion_volumes

SHAPE = (23, 29, 17)
COUNTS = {9: 311, 8: 1207, 1: 57}


def voxel_mm3(zooms) -> float:
    """The voxel volume the file can store: NIfTI keeps zooms as float32."""
    return float(np.prod(np.asarray(zooms, dtype=np.float32).astype(np.float64)))


@pytest.fixture(scope="module")
def labels():
    return random_labels(SHAPE, COUNTS, seed=3)


@pytest.mark.parametrize("suffix", [".nii", ".nii.gz"])
@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.int32, np.float32, np.float64])
@pytest.mark.parametrize("zooms", [(1.0, 1.0, 1.0), (0.9, 0.9, 3.0)])
def test_exact_counts_every_dtype(tmp_path, labels, suffix, dtype, zooms):
    path = save_nifti(tmp_path / f"seg{suffix}", labels, zooms=zooms, dtype=dtype)
    table = lesion_volumes([path], progress=False)
    assert list(table.columns) == ["path", "n_voxels", "voxel_mm3", "volume_mm3"]
    assert table.loc[0, "path"] == str(path)
    assert table.loc[0, "n_voxels"] == COUNTS[9]
    assert table.loc[0, "voxel_mm3"] == voxel_mm3(zooms)
    assert table.loc[0, "volume_mm3"] == COUNTS[9] * voxel_mm3(zooms)
    # and nibabel's slow path agrees
    assert int((nib.load(path).get_fdata() == 9).sum()) == COUNTS[9]


@pytest.mark.parametrize("big_endian", [False, True])
@pytest.mark.parametrize("dtype", [np.int16, np.int32, np.float32])
def test_big_endian(tmp_path, labels, big_endian, dtype):
    path = save_nifti(tmp_path / "seg.nii.gz", labels, dtype=dtype, big_endian=big_endian)
    assert nib.load(path).header.endianness == (">" if big_endian else "<")
    table = lesion_volumes(path, label=[9, 8, 1], progress=False)
    assert table[["n_voxels_9", "n_voxels_8", "n_voxels_1"]].iloc[0].tolist() == [311, 1207, 57]


@pytest.mark.parametrize("big_endian", [False, True])
def test_scaled_int16_compares_real_values(tmp_path, labels, big_endian):
    # real = stored * 0.5: label 9 is stored as 18, label 8 as 16
    path = save_nifti(tmp_path / "half.nii.gz", labels, dtype=np.int16, slope=0.5,
                      big_endian=big_endian)
    stored = np.asanyarray(nib.load(path).dataobj.get_unscaled())
    assert np.count_nonzero(stored == 18) == COUNTS[9]
    table = lesion_volumes(path, label=[9, 8, 18], progress=False)
    assert table[["n_voxels_9", "n_voxels_8", "n_voxels_18"]].iloc[0].tolist() == [311, 1207, 0]


def test_scaled_with_intercept(tmp_path):
    # real = 2 * stored + 1: background 1 (stored 0), labels 3 (1) and 9 (4)
    real = random_labels(SHAPE, {9: 40, 3: 25}, seed=5)
    real[real == 0] = 1
    path = save_nifti(tmp_path / "scaled.nii", real, dtype=np.uint8, slope=2.0, inter=1.0)
    table = lesion_volumes(path, label=[9, 3, 1, 2], progress=False)
    expect = [40, 25, real.size - 65, 0]
    assert table[["n_voxels_9", "n_voxels_3", "n_voxels_1", "n_voxels_2"]].iloc[0].tolist() == expect
    assert int((nib.load(path).get_fdata() == 9).sum()) == 40


def test_label_not_representable_counts_zero(tmp_path, labels):
    path = save_nifti(tmp_path / "u8.nii", labels, dtype=np.uint8)
    table = lesion_volumes(path, label=[300, -1, 8.5], progress=False)
    assert table.filter(like="n_voxels").iloc[0].tolist() == [0, 0, 0]


def test_float_map_compares_exactly(tmp_path):
    data = np.zeros(SHAPE, dtype=np.float32)
    data.flat[:10] = 9.0
    data.flat[10:20] = 10.0
    data.flat[20:25] = 8.0
    path = save_nifti(tmp_path / "f.nii.gz", data)
    assert lesion_volumes(path, progress=False).loc[0, "n_voxels"] == 10
    # a value near a label is not that label, and it is not silently "not 9" either:
    # a label map holding 9.0001 or NaN is refused (tests/imaging/test_imaging_hostile.py)
    data.flat[10:20] = np.float32(9.0001)
    near = save_nifti(tmp_path / "near.nii.gz", data)
    with pytest.raises(ImageReadError, match=r"near\.nii\.gz: 10 voxel\(s\) .*not whole numbers"):
        lesion_volumes(near, progress=False)


def test_several_labels_and_names(tmp_path, labels):
    path = save_nifti(tmp_path / "seg.nii.gz", labels, zooms=(1.0, 1.0, 2.0), dtype=np.uint8)
    named = lesion_volumes([path], label={"wmh": 9, "wm": 8}, progress=False)
    assert list(named.columns) == [
        "path", "n_voxels_wmh", "n_voxels_wm", "voxel_mm3", "volume_mm3_wmh", "volume_mm3_wm"
    ]
    assert named.loc[0, "volume_mm3_wm"] == 1207 * 2.0
    one_in_list = lesion_volumes([path], label=[9], progress=False)
    assert list(one_in_list.columns) == ["path", "n_voxels_9", "voxel_mm3", "volume_mm3_9"]


@pytest.mark.parametrize("zooms", [(1.0, 1.0, 1.0), (3.0, 0.9, 0.9)])
def test_minc1_unsigned_bytes(tmp_path, labels, zooms):
    path = save_minc1(tmp_path / "seg.mnc", labels, zooms=zooms)
    table = lesion_volumes(path, label=[9, 8, 1], progress=False)
    assert table[["n_voxels_9", "n_voxels_8", "n_voxels_1"]].iloc[0].tolist() == [311, 1207, 57]
    assert table.loc[0, "voxel_mm3"] == pytest.approx(np.prod(zooms), rel=1e-12)


def test_minc1_rescaled_slices_round_to_labels(tmp_path, labels):
    # image-max 9 over valid_range 0..255: stored = round(label * 255 / 9), so the real
    # values (stored * 9 / 255) miss the labels by up to 0.018
    path = save_minc1(tmp_path / "scaled.mnc", np.round(labels * 255 / 9), scale=9 / 255)
    real = np.asanyarray(nib.load(path).dataobj)
    assert not np.all(real == np.rint(real))  # the rescaling really is inexact
    table = lesion_volumes(path, label=[9, 8], progress=False)
    assert table[["n_voxels_9", "n_voxels_8"]].iloc[0].tolist() == [311, 1207]


def test_minc1_signed_int16_and_float(tmp_path, labels):
    short = save_minc1(tmp_path / "short.mnc", labels, typecode="h", signed=True)
    single = save_minc1(tmp_path / "float.mnc", labels, typecode="f")
    table = lesion_volumes([short, single], progress=False)
    assert table["n_voxels"].tolist() == [311, 311]


def test_minc2_without_h5py_says_so(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "h5py", None)  # as if h5py were not installed
    path = tmp_path / "minc2.mnc"
    path.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(600))
    with pytest.raises(ImageReadError, match=r"minc2\.mnc.*MINC2.*h5py"):
        lesion_volumes(path, progress=False)


def test_atlas_regions_exact(tmp_path, labels):
    atlas = np.zeros(SHAPE, dtype=np.int16)
    atlas[:, :10] = 3
    atlas[:, 10:20] = 7
    atlas[:5] = 12  # a region outside the lookup table
    zooms = (0.9, 0.9, 3.0)
    atlas_path = save_nifti(tmp_path / "atlas.nii.gz", atlas, zooms=zooms)
    mask = save_nifti(tmp_path / "seg.nii.gz", labels, zooms=zooms, dtype=np.uint8)
    table = lesion_volumes([mask], atlas=atlas_path, progress=False,
                           lookup={3: "Corticospinal tract", 7: "corpus callosum", 40: "absent"})
    v = voxel_mm3(zooms)
    expected = {
        "corticospinal_tract": np.count_nonzero((labels == 9) & (atlas == 3)) * v,
        "corpus_callosum": np.count_nonzero((labels == 9) & (atlas == 7)) * v,
        "absent": 0.0,
        "12": np.count_nonzero((labels == 9) & (atlas == 12)) * v,
    }
    for name, value in expected.items():
        assert table.loc[0, f"volume_mm3_{name}"] == value
    assert expected["corticospinal_tract"] > 0 and expected["12"] > 0
    assert table.attrs["regions"] == {"corticospinal_tract": 3, "corpus_callosum": 7,
                                      "absent": 40, "12": 12}


def test_atlas_lookup_file_and_image_object(tmp_path, labels):
    atlas = np.zeros(SHAPE, dtype=np.uint8)
    atlas[..., :8] = 1
    atlas[..., 8:] = 2
    lut = tmp_path / "lut.txt"
    lut.write_text("# id name r g b a\n1  Left-Lobe 10 20 30 0\n2 Right-Lobe 1 2 3 0\n")
    mask = save_nifti(tmp_path / "seg.nii", labels, dtype=np.int32)
    image = nib.Nifti1Image(atlas, np.eye(4))
    table = lesion_volumes(mask, label=[8, 9], atlas=image, lookup=lut, progress=False)
    for lab in (8, 9):
        left = np.count_nonzero((labels == lab) & (atlas == 1))
        right = np.count_nonzero((labels == lab) & (atlas == 2))
        assert table.loc[0, f"volume_mm3_{lab}_left_lobe"] == left
        assert table.loc[0, f"volume_mm3_{lab}_right_lobe"] == right
        assert left + right == COUNTS[lab]
    csv = tmp_path / "lut.csv"
    pd.DataFrame({"id": [1, 2], "name": ["a", "b"]}).to_csv(csv, index=False)
    from_csv = lesion_volumes(mask, atlas=image, lookup=csv, progress=False)
    assert from_csv.loc[0, "volume_mm3_a"] + from_csv.loc[0, "volume_mm3_b"] == COUNTS[9]


# --- bad files -------------------------------------------------------------------------


@pytest.fixture
def bad_files(tmp_path, labels):
    good1 = save_nifti(tmp_path / "good1.nii.gz", labels, dtype=np.uint8)
    good2 = save_nifti(tmp_path / "good2.nii", labels, dtype=np.int16)
    raw = good1.read_bytes()
    truncated = tmp_path / "truncated.nii.gz"
    truncated.write_bytes(raw[: len(raw) // 2])
    flipped = bytearray(raw)
    flipped[len(raw) // 2] ^= 0xFF
    corrupt_gz = tmp_path / "corrupt.nii.gz"
    corrupt_gz.write_bytes(bytes(flipped))
    inflated = bytearray(gzip.decompress(raw))
    inflated[0:4] = (1234).to_bytes(4, "little")
    bad_header = tmp_path / "badheader.nii.gz"
    bad_header.write_bytes(gzip.compress(bytes(inflated)))
    short_nii = tmp_path / "short.nii"
    short_nii.write_bytes(good2.read_bytes()[:-100])
    four_d = save_nifti(tmp_path / "fourd.nii.gz", np.zeros((*SHAPE, 2), np.uint8))
    return {
        "good1": good1, "good2": good2, "missing": tmp_path / "missing.nii.gz",
        "truncated": truncated, "corrupt_gz": corrupt_gz, "bad_header": bad_header,
        "short_nii": short_nii, "four_d": four_d,
    }


@pytest.mark.parametrize(
    "name, message",
    [
        ("missing", "file not found"),
        ("truncated", "truncated gzip stream"),
        ("corrupt_gz", "corrupt gzip stream"),
        ("bad_header", "not a NIfTI file"),
        ("short_nii", "truncated: holds"),
        ("four_d", r"expected a 3-D image.*\(23, 29, 17, 2\)"),
    ],
)
def test_bad_file_raises_naming_it(bad_files, name, message):
    path = bad_files[name]
    with pytest.raises(ImageReadError, match=message) as caught:
        lesion_volumes([bad_files["good1"], path], progress=False)
    assert str(path) in str(caught.value)


def test_coerce_keeps_every_other_row(bad_files):
    order = ["good1", "missing", "truncated", "good2", "corrupt_gz", "bad_header",
             "short_nii", "four_d"]
    paths = [bad_files[k] for k in order]
    table = lesion_volumes(paths, label=[9, 8], errors="coerce", progress=False)
    assert table["path"].tolist() == [str(p) for p in paths]
    good = table["error"].isna()
    assert good.tolist() == [True, False, False, True, False, False, False, False]
    assert table.loc[good, "n_voxels_9"].tolist() == [311, 311]
    assert table.loc[good, "volume_mm3_8"].tolist() == [1207.0, 1207.0]
    bad = table.loc[~good]
    assert bad["n_voxels_9"].isna().all() and bad["volume_mm3_9"].isna().all()
    assert bad["voxel_mm3"].isna().all()
    for path, why in zip(bad["path"], bad["error"], strict=True):
        assert path in why
    assert table["n_voxels_9"].dtype == "Int64"


def test_atlas_on_another_grid_names_both(tmp_path, labels):
    mask = save_nifti(tmp_path / "seg.nii.gz", labels, dtype=np.uint8)
    small = save_nifti(tmp_path / "small_atlas.nii.gz", np.ones((23, 29, 16), np.uint8))
    shifted_affine = np.eye(4)
    shifted_affine[0, 3] = 2.0
    shifted = save_nifti(tmp_path / "shifted_atlas.nii.gz", np.ones(SHAPE, np.uint8),
                         affine=shifted_affine)
    for atlas, why in [(small, "shape"), (shifted, "affines differ by up to 2 mm")]:
        with pytest.raises(DataValidationError, match=why) as caught:
            lesion_volumes(mask, atlas=atlas, progress=False)
        assert str(mask) in str(caught.value) and str(atlas) in str(caught.value)
        coerced = lesion_volumes([mask], atlas=atlas, errors="coerce", progress=False)
        assert coerced["n_voxels"].isna().all() and str(atlas) in coerced.loc[0, "error"]


def test_bad_arguments(tmp_path, labels):
    mask = save_nifti(tmp_path / "seg.nii", labels, dtype=np.uint8)
    with pytest.raises(ValueError, match="errors must be"):
        lesion_volumes(mask, errors="ignore")
    with pytest.raises(ValueError, match="repeat"):
        lesion_volumes(mask, label=[9, 9])
    atlas = nib.Nifti1Image(np.full(SHAPE, 1.5, np.float32), np.eye(4))
    with pytest.raises(DataValidationError, match="non-negative integers"):
        lesion_volumes(mask, atlas=atlas)


def test_empty_input_gives_empty_table():
    table = lesion_volumes([], progress=False)
    assert len(table) == 0 and list(table.columns) == ["path", "n_voxels", "voxel_mm3", "volume_mm3"]


# --- batches ---------------------------------------------------------------------------


def test_two_processes_same_result(tmp_path):
    paths = [save_nifti(tmp_path / f"m{i}.nii.gz", random_labels(SHAPE, {9: 10 * i + 1}, seed=i),
                        dtype=np.uint8) for i in range(9)]
    paths.insert(4, tmp_path / "missing.nii.gz")
    serial = lesion_volumes(paths, errors="coerce", progress=False)
    try:
        parallel = lesion_volumes(paths, errors="coerce", n_jobs=2, progress=False)
    finally:
        from joblib.externals.loky import get_reusable_executor

        get_reusable_executor().shutdown(wait=True)  # leave no worker processes behind
    pd.testing.assert_frame_equal(serial, parallel)
    assert serial["n_voxels"].dropna().tolist() == [10 * i + 1 for i in range(9)]


def test_no_progress_bar_when_off_or_not_a_terminal(tmp_path, labels, capfd):
    paths = [save_nifti(tmp_path / f"m{i}.nii", labels, dtype=np.uint8) for i in range(3)]
    lesion_volumes(paths, progress=False)
    lesion_volumes(paths, progress=True)  # pytest's stderr is not a terminal
    captured = capfd.readouterr()
    assert captured.err == "" and captured.out == ""


def test_progress_bar_on_a_terminal(tmp_path, labels, monkeypatch, capfd):
    import sys

    paths = [save_nifti(tmp_path / f"m{i}.nii", labels, dtype=np.uint8) for i in range(3)]
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    lesion_volumes(paths, progress=True)
    assert "lesion volumes" in capfd.readouterr().err
