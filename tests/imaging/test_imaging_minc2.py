"""lesion_volumes on MINC2 (HDF5) label maps written by hand with h5py.

nibabel reads MINC2 but cannot write it, so the files are written here with the
layout libminc (minc-toolkit-v2) gives them and nibabel's ``Minc2File`` reads:

- ``/minc-2.0/dimensions/{xspace,yspace,zspace}``: scalar int32 datasets whose
  attributes hold ``step``, ``start`` (scalar doubles), ``direction_cosines``
  (3 doubles), ``length`` and ``spacing`` (``regular__``);
- ``/minc-2.0/image/0/image``: the stored voxels, attribute ``dimorder``
  (``"zspace,yspace,xspace"``: the first axis varies slowest) and ``valid_range``;
- ``/minc-2.0/image/0/image-min`` and ``image-max``: scalars for the whole volume,
  or arrays over the leading image axes with their own ``dimorder`` (per slice).

Every string attribute is a fixed-length byte string, as libminc writes them
(nibabel calls ``.decode()`` on ``dimorder``). Integer voxels are rescaled:
real = image-min + (stored - valid_min) * (image-max - image-min) / (valid_max - valid_min).
Float voxels are the real values (image-min/max only describe them).
Each file is cross-checked with ``nibabel.load(path).get_fdata()``.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from imaging_helpers import random_labels, save_minc1, save_nifti

from alsstats.errors import DataValidationError, ImageReadError
from alsstats.imaging import lesion_volumes
from alsstats.imaging._fastnifti import open_volume

h5py = pytest.importorskip("h5py")

SHAPE = (23, 29, 17)  # (z, y, x): MINC's usual dimorder, slowest axis first
ZYX = ("zspace", "yspace", "xspace")
COUNTS = {9: 311, 8: 1207, 1: 57}
COSINES = {"xspace": (1.0, 0.0, 0.0), "yspace": (0.0, 1.0, 0.0), "zspace": (0.0, 0.0, 1.0)}


def _text(value: str) -> np.bytes_:
    """A fixed-length HDF5 string attribute, as libminc writes them."""
    return np.bytes_(value.encode("ascii"))


def _standard(obj, vartype: str) -> None:
    obj.attrs["varid"] = _text("MINC standard variable")
    obj.attrs["vartype"] = _text(vartype)
    obj.attrs["version"] = _text("MINC Version    1.0")


def save_minc2(
    path,
    stored,
    steps=(1.0, 1.0, 1.0),
    starts=(0.0, 0.0, 0.0),
    dimorder=ZYX,
    valid_range=None,
    image_min=0.0,
    image_max=1.0,
    cosines=None,
    compress: bool = False,
) -> Path:
    """Write ``stored`` (axes in ``dimorder``) as a MINC2 file, byte for byte what it is given.

    ``steps``/``starts``/``cosines`` follow ``dimorder``. ``image_min``/``image_max``
    are scalars (one scaling for the volume) or arrays over the leading axes of
    ``stored`` (per slice: shape ``stored.shape[:1]``; per row: ``stored.shape[:2]``).
    """
    path = Path(path)
    stored = np.asarray(stored)
    cosines = cosines or [COSINES[name] for name in dimorder]
    with h5py.File(path, "w") as handle:
        root = handle.create_group("minc-2.0")
        root.attrs["minc_version"] = _text("2.2.00")
        root.attrs["ident"] = _text("alsstats-test:2024.01.01:1")
        root.attrs["history"] = _text("hand-written by tests/imaging/test_imaging_minc2.py\n")
        dimensions = root.create_group("dimensions")
        for name, size, step, start, cosine in zip(
            dimorder, stored.shape, steps, starts, cosines, strict=True
        ):
            axis = dimensions.create_dataset(name, data=np.int32(0))
            axis.attrs["length"] = np.uint32(size)
            axis.attrs["step"] = np.float64(step)
            axis.attrs["start"] = np.float64(start)
            axis.attrs["direction_cosines"] = np.asarray(cosine, dtype=np.float64)
            axis.attrs["spacing"] = _text("regular__")
            axis.attrs["spacetype"] = _text("native____")
            axis.attrs["alignment"] = _text("centre")
            axis.attrs["units"] = _text("mm")
            _standard(axis, "dimension____")
        level = root.create_group("image").create_group("0")
        options = {"compression": "gzip", "compression_opts": 4, "chunks": True} if compress else {}
        image = level.create_dataset("image", data=stored, **options)
        image.attrs["dimorder"] = _text(",".join(dimorder))
        image.attrs["complete"] = _text("true_")
        if valid_range is not None:
            image.attrs["valid_range"] = np.asarray(valid_range, dtype=np.float64)
        _standard(image, "group________")
        for name, values in (("image-min", image_min), ("image-max", image_max)):
            values = np.asarray(values, dtype=np.float64)
            variable = level.create_dataset(name, data=values)
            if values.ndim:
                variable.attrs["dimorder"] = _text(",".join(dimorder[: values.ndim]))
            _standard(variable, "var_attribute")
        info = root.create_group("info")
        _standard(info.create_dataset("patient", data=np.int32(0)), "group________")
    return path


def minc_rescale(real, dtype, scaled_axes: int):
    """Store ``real`` as libminc does: integers spanning ``valid_range`` on each slice.

    ``scaled_axes`` 0: one image-min/max for the volume; 1: per slice (the leading
    axis); 2: per row (the two leading axes). A slice whose values are all equal
    gets image-min == image-max and stores ``valid_min``.
    Returns (stored, image_min, image_max, valid_range).
    """
    real = np.asarray(real, dtype=np.float64)
    limits = np.iinfo(dtype)
    vmin, vmax = float(limits.min), float(limits.max)
    over = tuple(range(scaled_axes, real.ndim))
    imin = real.min(axis=over, keepdims=True)
    imax = real.max(axis=over, keepdims=True)
    span = np.where(imax > imin, imax - imin, 1.0)
    stored = np.round(vmin + (real - imin) / span * (vmax - vmin)).astype(dtype)
    keep = real.shape[:scaled_axes]
    return stored, imin.reshape(keep), imax.reshape(keep), (vmin, vmax)


def save_minc2_labels(path, labels, dtype, rescaled: bool = False, scaled_axes: int = 1,
                      **options) -> Path:
    """Label map as MINC2: identity scaling (stored == real) unless ``rescaled``."""
    labels = np.asarray(labels)
    if np.issubdtype(dtype, np.floating):
        stored = labels.astype(dtype)  # real values; image-min/max as libminc records them
        return save_minc2(path, stored, image_min=float(stored.min()),
                          image_max=float(stored.max()), **options)
    if rescaled:
        stored, imin, imax, valid = minc_rescale(labels, dtype, scaled_axes)
        return save_minc2(path, stored, valid_range=valid, image_min=imin, image_max=imax,
                          **options)
    limits = np.iinfo(dtype)
    valid = (float(limits.min), float(limits.max))
    return save_minc2(path, labels.astype(dtype), valid_range=valid, image_min=valid[0],
                      image_max=valid[1], **options)


def real_values(path) -> np.ndarray:
    """nibabel's reading of the file (the independent reader)."""
    image = nib.load(path)
    assert type(image).__name__ == "Minc2Image"
    return image.get_fdata()


def exact_voxel_mm3(steps) -> float:
    return math.prod(abs(float(s)) for s in steps)


@pytest.fixture(scope="module")
def labels():
    return random_labels(SHAPE, COUNTS, seed=3)


# --- the hand-made files are what nibabel reads ------------------------------------------


def test_hand_made_file_is_minc2_as_nibabel_reads_it(tmp_path, labels):
    steps, starts = (3.0, -0.9, 0.9), (-72.0, 126.0, -90.0)
    path = save_minc2_labels(tmp_path / "seg.mnc", labels, np.uint8, steps=steps, starts=starts)
    assert path.read_bytes()[:8] == b"\x89HDF\r\n\x1a\n"
    image = nib.load(path)
    assert image.shape == SHAPE and image.get_data_dtype() == np.uint8
    assert np.array_equal(image.get_fdata(), labels)
    assert image.header.get_zooms() == pytest.approx((3.0, 0.9, 0.9), rel=1e-7)
    # columns of the affine: z, y, x steps along their direction cosines
    expected = np.array([[0, 0, 0.9, -90.0], [0, -0.9, 0, 126.0], [3.0, 0, 0, -72.0], [0, 0, 0, 1]])
    np.testing.assert_allclose(image.affine, expected, rtol=0, atol=1e-12)
    info, _ = open_volume(path)
    assert info.format == "minc2" and info.shape == SHAPE
    np.testing.assert_array_equal(info.affine, image.affine)


# --- exact counts and voxel size ----------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.float32])
@pytest.mark.parametrize(
    "steps",
    [(1.0, 1.0, 1.0), (3.0, 0.9, 0.9), (3.0, -0.9, 0.9), (-1.2, 0.7, -0.45)],
    ids=["iso", "0.9x0.9x3", "negative_y", "three_odd"],
)
def test_exact_counts_and_voxel_size(tmp_path, labels, dtype, steps):
    path = save_minc2_labels(tmp_path / "seg.mnc", labels, dtype, steps=steps)
    real = real_values(path)
    assert {k: int((real == k).sum()) for k in COUNTS} == COUNTS
    table = lesion_volumes([path], label=[9, 8, 1], progress=False)
    assert table[["n_voxels_9", "n_voxels_8", "n_voxels_1"]].iloc[0].tolist() == [311, 1207, 57]
    voxel = table.loc[0, "voxel_mm3"]
    # the double-precision steps, not nibabel's float32 header zooms
    assert voxel == pytest.approx(exact_voxel_mm3(steps), rel=1e-13, abs=0)
    assert voxel > 0
    assert table.loc[0, "volume_mm3_9"] == 311 * voxel
    single = lesion_volumes(path, label=9, progress=False)
    assert single.loc[0, "n_voxels"] == 311 and single.loc[0, "volume_mm3"] == 311 * voxel


def test_x_fastest_dimorder_and_oblique_cosines(tmp_path, labels):
    # dimorder xspace,yspace,zspace and a grid rotated 30 degrees about z
    angle = math.radians(30.0)
    c, s = math.cos(angle), math.sin(angle)
    cosines = [(c, s, 0.0), (-s, c, 0.0), (0.0, 0.0, 1.0)]
    steps = (0.9, 0.9, 3.0)
    data = labels.transpose(2, 1, 0)
    path = save_minc2_labels(tmp_path / "oblique.mnc", data, np.int16, steps=steps,
                             dimorder=("xspace", "yspace", "zspace"), cosines=cosines)
    assert np.array_equal(real_values(path), data)
    table = lesion_volumes(path, label=[9, 8], progress=False)
    assert table[["n_voxels_9", "n_voxels_8"]].iloc[0].tolist() == [311, 1207]
    assert table.loc[0, "voxel_mm3"] == pytest.approx(exact_voxel_mm3(steps), rel=1e-12, abs=0)


def test_label_absent_or_not_representable_counts_zero(tmp_path, labels):
    path = save_minc2_labels(tmp_path / "seg.mnc", labels, np.uint8)
    table = lesion_volumes(path, label=[300, -1, 8.5, 2], progress=False)
    assert table.filter(like="n_voxels").iloc[0].tolist() == [0, 0, 0, 0]


# --- real-world storage: integers rescaled slice by slice ---------------------------------


@pytest.fixture(scope="module")
def uneven_labels(labels):
    """Labels with an all-background slice and an all-9 slice (image-min == image-max)."""
    data = labels.copy()
    data[4] = 0
    data[11] = 9
    return data


@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.uint16])
@pytest.mark.parametrize("scaled_axes", [0, 1, 2], ids=["volume", "slice", "row"])
def test_rescaled_integers_give_exact_counts(tmp_path, uneven_labels, dtype, scaled_axes):
    stored, imin, imax, _ = minc_rescale(uneven_labels, dtype, scaled_axes)
    if scaled_axes == 1:
        assert imin[4] == imax[4] == 0 and imin[11] == imax[11] == 9
    path = save_minc2_labels(tmp_path / "rescaled.mnc", uneven_labels, dtype, rescaled=True,
                             scaled_axes=scaled_axes, steps=(3.0, 0.9, -0.9), compress=True)
    with h5py.File(path, "r") as handle:
        assert np.array_equal(handle["minc-2.0/image/0/image"][()], stored)
    real = real_values(path)
    if dtype == np.uint8:
        assert not np.all(real == np.rint(real))  # the rescaling really is inexact
    assert np.abs(real - uneven_labels).max() < 0.5
    expected = {k: int((uneven_labels == k).sum()) for k in (9, 8, 1, 0)}
    table = lesion_volumes(path, label=[9, 8, 1, 0, 255], progress=False)
    counts = table[["n_voxels_9", "n_voxels_8", "n_voxels_1", "n_voxels_0", "n_voxels_255"]]
    assert counts.iloc[0].tolist() == [expected[9], expected[8], expected[1], expected[0], 0]
    assert sum(expected.values()) == uneven_labels.size
    assert table.loc[0, "voxel_mm3"] == pytest.approx(3.0 * 0.9 * 0.9, rel=1e-13, abs=0)


def test_rescaled_real_values_0_to_9_as_bison_writes(tmp_path):
    # every label 0..9, per-slice image-min/max: the real values are 0..9 up to 9/255
    real_labels = random_labels(SHAPE, {k: 40 + 13 * k for k in range(1, 10)}, seed=11)
    path = save_minc2_labels(tmp_path / "bison.mnc", real_labels, np.uint8, rescaled=True,
                             steps=(1.0, 1.0, 1.0), compress=True)
    real = real_values(path)
    assert not np.all(real == np.rint(real))
    assert np.array_equal(np.rint(real), real_labels)
    table = lesion_volumes(path, label=list(range(10)), progress=False)
    expected = [int((real_labels == k).sum()) for k in range(10)]
    assert expected[1:] == [40 + 13 * k for k in range(1, 10)]
    assert table.filter(like="n_voxels").iloc[0].tolist() == expected


# --- batches mixing formats ---------------------------------------------------------------


def test_batch_mixing_minc2_nifti_and_minc1(tmp_path):
    steps = (3.0, -0.9, 0.9)
    files, expected, voxels = [], [], []
    for i, kind in enumerate(["nii.gz", "mnc2_u8", "nii", "mnc2_i16_rescaled", "mnc2_f32",
                              "mnc1", "mnc2_u8_rescaled"]):
        n9 = 17 * i + 5
        data = random_labels(SHAPE, {9: n9, 8: 100}, seed=20 + i)
        if kind.startswith("nii"):
            path = save_nifti(tmp_path / f"s{i}.{kind}", data, zooms=(0.9, 0.9, 3.0),
                              dtype=np.uint8)
            voxel = float(np.prod(np.float32([0.9, 0.9, 3.0]).astype(np.float64)))
        elif kind == "mnc1":
            path = save_minc1(tmp_path / f"s{i}.mnc", data, zooms=(3.0, 0.9, 0.9))
            voxel = exact_voxel_mm3(steps)
        else:
            dtype = {"u8": np.uint8, "i16": np.int16, "f32": np.float32}[kind.split("_")[1]]
            path = save_minc2_labels(tmp_path / f"s{i}.mnc", data, dtype,
                                     rescaled=kind.endswith("rescaled"), steps=steps)
            assert int((np.rint(real_values(path)) == 9).sum()) == n9
            voxel = exact_voxel_mm3(steps)
        files.append(path)
        expected.append(n9)
        voxels.append(voxel)
    table = lesion_volumes(files, label=9, progress=False)
    assert table["path"].tolist() == [str(p) for p in files]
    assert table["n_voxels"].tolist() == expected
    np.testing.assert_allclose(table["voxel_mm3"], voxels, rtol=1e-13, atol=0)
    assert (table["volume_mm3"] == table["n_voxels"] * table["voxel_mm3"]).all()


def test_bad_minc2_files_raise_or_coerce_naming_them(tmp_path, labels):
    good = save_minc2_labels(tmp_path / "good.mnc", labels, np.uint8, rescaled=True)
    truncated = tmp_path / "truncated.mnc"
    truncated.write_bytes(good.read_bytes()[:3000])
    not_minc = tmp_path / "plain_hdf5.mnc"
    with h5py.File(not_minc, "w") as handle:
        handle.create_dataset("data", data=np.zeros(3))
    four_d = save_minc2(tmp_path / "fourd.mnc", np.zeros((2, *SHAPE), np.uint8),
                        dimorder=("time", *ZYX), steps=(1.0, 1.0, 1.0, 1.0),
                        starts=(0.0, 0.0, 0.0, 0.0),
                        cosines=[(0, 0, 0), *(COSINES[n] for n in ZYX)],
                        valid_range=(0, 255), image_min=0.0, image_max=255.0)
    missing = tmp_path / "missing.mnc"
    why = {
        truncated: "truncated file",
        not_minc: "minc-2.0",
        four_d: r"expected a 3-D image.*\(2, 23, 29, 17\)",
        missing: "file not found",
    }
    for bad, message in why.items():
        with pytest.raises(ImageReadError, match=message) as caught:
            lesion_volumes([good, bad], progress=False)
        assert str(bad) in str(caught.value)
    paths = [good, truncated, not_minc, good, four_d, missing]
    table = lesion_volumes(paths, errors="coerce", progress=False)
    assert table["error"].isna().tolist() == [True, False, False, True, False, False]
    assert table["n_voxels"].dropna().tolist() == [311, 311]
    for path, error in zip(paths, table["error"], strict=True):
        assert error is None if path == good else str(path) in error


# --- atlases given as MINC2 ---------------------------------------------------------------


@pytest.fixture(scope="module")
def atlas_regions():
    atlas = np.zeros(SHAPE, dtype=np.int16)
    atlas[:, :10] = 3
    atlas[:, 10:20] = 7
    atlas[:5] = 12  # a region outside the lookup table
    return atlas


@pytest.mark.parametrize("atlas_rescaled", [False, True], ids=["atlas_plain", "atlas_rescaled"])
def test_minc2_atlas_with_minc2_and_nifti_masks(tmp_path, labels, atlas_regions, atlas_rescaled):
    steps, starts = (3.0, 0.9, -0.9), (-72.0, -126.0, 90.0)
    atlas_path = save_minc2_labels(tmp_path / "atlas.mnc", atlas_regions, np.int16,
                                   rescaled=atlas_rescaled, steps=steps, starts=starts)
    assert np.array_equal(np.rint(real_values(atlas_path)), atlas_regions)
    minc_mask = save_minc2_labels(tmp_path / "seg.mnc", labels, np.uint8, rescaled=True,
                                  steps=steps, starts=starts)
    # a NIfTI mask on the same grid: same array, the MINC file's affine
    affine = nib.load(atlas_path).affine
    nifti_mask = save_nifti(tmp_path / "seg.nii.gz", labels, zooms=(3.0, 0.9, 0.9),
                            dtype=np.uint8, affine=affine)
    table = lesion_volumes([minc_mask, nifti_mask], atlas=atlas_path, progress=False,
                           lookup={3: "Corticospinal tract", 7: "corpus callosum", 40: "absent"})
    assert table.attrs["regions"] == {"corticospinal_tract": 3, "corpus_callosum": 7,
                                      "absent": 40, "12": 12}
    assert table["n_voxels"].tolist() == [311, 311]
    counts = {
        "corticospinal_tract": np.count_nonzero((labels == 9) & (atlas_regions == 3)),
        "corpus_callosum": np.count_nonzero((labels == 9) & (atlas_regions == 7)),
        "absent": 0,
        "12": np.count_nonzero((labels == 9) & (atlas_regions == 12)),
    }
    assert counts["corticospinal_tract"] > 0 and counts["12"] > 0
    for row in range(2):
        voxel = table.loc[row, "voxel_mm3"]
        assert voxel == pytest.approx(exact_voxel_mm3(steps), rel=1e-7)
        for name, count in counts.items():
            assert table.loc[row, f"volume_mm3_{name}"] == count * voxel


def test_minc2_atlas_on_another_grid_names_both(tmp_path, labels, atlas_regions):
    atlas_path = save_minc2_labels(tmp_path / "atlas.mnc", atlas_regions, np.int16,
                                   starts=(0.0, 0.0, 2.0))
    mask = save_minc2_labels(tmp_path / "seg.mnc", labels, np.uint8)
    with pytest.raises(DataValidationError, match="affines differ by up to 2 mm") as caught:
        lesion_volumes(mask, atlas=atlas_path, progress=False)
    assert str(mask) in str(caught.value) and str(atlas_path) in str(caught.value)


# --- without h5py -------------------------------------------------------------------------


def test_without_h5py_minc2_says_what_to_install(tmp_path, labels, monkeypatch):
    path = save_minc2_labels(tmp_path / "seg.mnc", labels, np.uint8)
    with monkeypatch.context() as patched:
        patched.setitem(sys.modules, "h5py", None)  # import h5py now raises ImportError
        with pytest.raises(ImageReadError, match=r"seg\.mnc.*MINC2.*pip install h5py"):
            lesion_volumes(path, progress=False)
        coerced = lesion_volumes([path], errors="coerce", progress=False)
        assert "h5py" in coerced.loc[0, "error"] and coerced["n_voxels"].isna().all()
    assert lesion_volumes(path, progress=False).loc[0, "n_voxels"] == 311


def test_roi_intensity_keeps_real_values_of_integer_minc2_flair(tmp_path):
    """An int16 MINC2 FLAIR rescaled per slice: intensities are not rounded like labels."""
    from alsstats.imaging import roi_intensity

    rng = np.random.default_rng(7)
    shape = (6, 7, 8)  # z, y, x as stored (ZYX)
    real = rng.uniform(0.5, 1.5, size=shape)
    stored, imin, imax, valid = minc_rescale(real, np.int16, scaled_axes=1)
    flair = save_minc2(tmp_path / "flair.mnc", stored, valid_range=valid, image_min=imin,
                       image_max=imax)
    regions = np.zeros(shape, dtype=np.uint8)
    regions[:3] = 1
    regions[3:, :4] = 2
    atlas = save_minc2_labels(tmp_path / "atlas.mnc", regions, np.uint8)
    values = nib.load(flair).get_fdata()
    labels = np.rint(nib.load(atlas).get_fdata())
    assert not np.allclose(values, np.rint(values))  # really fractional intensities
    table = roi_intensity([flair], atlas, None, progress=False)
    for region in (1, 2):
        expected = values[labels == region].mean()
        assert table.loc[0, f"flair_{region}"] == pytest.approx(expected, rel=1e-12)
