"""Build label maps with known voxel counts, as NIfTI (nibabel) and MINC1 (by hand).

nibabel reads MINC but cannot write it, so MINC1 files are written here with
``scipy.io.netcdf_file`` following the MINC1 layout nibabel reads: dimension
variables ``zspace``/``yspace``/``xspace`` (``step``, ``start``, ``spacing``),
an ``image`` variable with ``signtype`` and ``valid_range``, and per-slice
``image-min``/``image-max``.
"""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np

MNI_AFFINE = np.array(
    [[1.0, 0, 0, -96], [0, 1.0, 0, -132], [0, 0, 1.0, -78], [0, 0, 0, 1]]
)


def random_labels(shape, counts: dict[int, int], seed: int = 0) -> np.ndarray:
    """An int64 array with exactly ``counts[label]`` voxels of each label, the rest 0."""
    rng = np.random.default_rng(seed)
    total = int(np.prod(shape))
    flat = np.zeros(total, dtype=np.int64)
    where = rng.permutation(total)
    at = 0
    for label, count in counts.items():
        flat[where[at : at + count]] = label
        at += count
    return flat.reshape(shape)


def save_nifti(path, data, zooms=(1.0, 1.0, 1.0), dtype=None, affine=None,
               slope=None, inter=0.0, big_endian=False) -> Path:
    """Save ``data`` as NIfTI-1 (``.nii`` or ``.nii.gz`` by the name).

    With ``slope`` the file stores ``round((data - inter) / slope)`` and a header
    ``scl_slope``/``scl_inter``, so its real values are ``data`` when the caller
    picks data that divide exactly.
    """
    path = Path(path)
    if affine is None:
        affine = np.diag([*zooms, 1.0])
    stored = np.asarray(data)
    if slope is not None:
        stored = np.round((stored - inter) / slope)
    stored = stored.astype(dtype or stored.dtype)
    header = nib.Nifti1Header()
    if big_endian:
        header = header.as_byteswapped(">")
    header.set_data_dtype(stored.dtype)
    image = nib.Nifti1Image(stored, affine, header)
    image.header.set_zooms(tuple(zooms) + (1.0,) * (stored.ndim - 3))
    nib.save(image, path)
    if slope is not None:
        _patch_scaling(path, slope, inter, ">" if big_endian else "<")
    return path


def _patch_scaling(path: Path, slope: float, inter: float, order: str) -> None:
    """Write scl_slope/scl_inter into a saved file (nibabel resets them on save)."""
    import gzip

    compressed = path.suffix == ".gz"
    raw = bytearray(gzip.decompress(path.read_bytes()) if compressed else path.read_bytes())
    raw[112:120] = np.array([slope, inter], dtype=f"{order}f4").tobytes()
    path.write_bytes(gzip.compress(bytes(raw), compresslevel=1) if compressed else bytes(raw))


def save_minc1(path, data, zooms=(1.0, 1.0, 1.0), starts=(0.0, 0.0, 0.0),
               typecode: str = "b", signed: bool = False, scale: float = 1.0) -> Path:
    """Write ``data`` (stored integers, axes z, y, x) as MINC1.

    Real values are ``stored * scale`` (image-min 0, image-max ``scale * valid_max``
    with valid_range [0, valid_max]) on every slice.
    """
    from scipy.io import netcdf_file

    path = Path(path)
    data = np.asarray(data)
    kinds = {"b": np.int8, "h": np.int16, "i": np.int32, "f": np.float32}
    if typecode == "f":
        stored = data.astype(np.float32)
        valid = (float(stored.min()), float(stored.max()))
    else:
        numpy_type = {"b": np.uint8, "h": np.uint16, "i": np.uint32}[typecode] if not signed \
            else kinds[typecode]
        info = np.iinfo(numpy_type)
        valid = (0.0, float(info.max))
        stored = data.astype(numpy_type).view(kinds[typecode])
    with netcdf_file(path, "w", version=1) as handle:
        names = ("zspace", "yspace", "xspace")
        for name, size, step, start in zip(names, data.shape, zooms, starts, strict=True):
            handle.createDimension(name, size)
            axis = handle.createVariable(name, "d", ())
            axis.step = np.array([step], dtype=np.float64)  # MINC keeps doubles
            axis.start = np.array([start], dtype=np.float64)
            axis.spacing = b"regular__"
            axis.direction_cosines = {"xspace": [1.0, 0, 0], "yspace": [0, 1.0, 0],
                                      "zspace": [0, 0, 1.0]}[name]
        image = handle.createVariable("image", typecode, names)
        image.signtype = b"signed__" if signed else b"unsigned"
        image.valid_range = np.array(valid)
        image[:] = stored
        top = handle.createVariable("image-max", "d", ("zspace",))
        bottom = handle.createVariable("image-min", "d", ("zspace",))
        top[:] = valid[1] * scale
        bottom[:] = valid[0] * scale
    return path
