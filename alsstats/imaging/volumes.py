"""Lesion volumes: count the voxels of a label in many label maps, fast."""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping, Sequence
from contextlib import closing
from typing import Any, Literal

import numpy as np
import pandas as pd

from alsstats._deprecation import formerly_positional
from alsstats.errors import ImageReadError
from alsstats.imaging._atlas import Atlas, LookupLike, check_same_grid, column_name, load_atlas
from alsstats.imaging._batch import check_errors_mode, error_text, map_files
from alsstats.imaging._fastnifti import Chunks, VolumeInfo, label_problem, open_volume

__all__ = ["BISON_LABELS", "lesion_volumes"]

BISON_LABELS: dict[str, int] = {
    "ventricles": 1,
    "csf": 2,
    "cerebellar_gm": 3,
    "cerebellar_wm": 4,
    "brainstem": 5,
    "deep_gm": 6,
    "cortical_gm": 7,
    "wm": 8,
    "wmh": 9,
}
"""The labels of BISON's tissue/WMH segmentation."""

PathLike = str | os.PathLike


def _as_paths(paths: PathLike | Iterable[PathLike]) -> list[str]:
    if isinstance(paths, (str, os.PathLike)):
        return [os.fspath(paths)]
    if isinstance(paths, pd.Series):
        paths = paths.tolist()
    return [os.fspath(p) for p in paths]


def _as_labels(label: Any) -> tuple[list[float], list[str] | None]:
    """Label values and their column suffixes (None for a single, unsuffixed label)."""
    if isinstance(label, Mapping):
        names = [column_name(k) for k in label]
        values = list(label.values())
    elif isinstance(label, (Sequence, np.ndarray)) and not isinstance(label, str):
        values = list(label)
        names = None
    else:
        values, names = [label], None
    out = []
    for value in values:
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)):
            raise ValueError(f"label must be a number (or a list/dict of numbers), got {value!r}")
        if not math.isfinite(float(value)):
            raise ValueError(f"label must be finite, got {value!r}")
        out.append(float(value))
    if not out:
        raise ValueError("label is empty: give at least one label value")
    if len(set(out)) != len(out):
        raise ValueError(f"label values repeat: {values}")
    if isinstance(label, Mapping):
        return out, names
    if len(values) == 1 and not isinstance(label, (Sequence, np.ndarray)):
        return out, None
    return out, [_number_text(v) for v in out]


def _number_text(value: float) -> str:
    return str(int(value)) if value == int(value) else column_name(repr(value))


def _stored_targets(info: VolumeInfo, value: float) -> np.ndarray | None:
    """Stored values whose real value (stored * slope + inter, in float64) equals ``value``.

    ``None`` means: compare the scaled values (float storage with scaling).
    The result carries the file's dtype and byte order.
    """
    dtype = info.dtype
    if np.issubdtype(dtype, np.floating):
        return None if info.scaled else np.asarray([value], dtype=dtype)
    limits = np.iinfo(dtype)
    if not info.scaled:
        hits = [value] if value == int(value) and limits.min <= value <= limits.max else []
    else:
        centre = (value - info.inter) / info.slope
        if not math.isfinite(centre):
            return np.asarray([], dtype=dtype)
        low = max(limits.min, math.floor(centre) - 1)
        high = min(limits.max, math.ceil(centre) + 1)
        hits = [s for s in range(low, high + 1) if float(s) * info.slope + info.inter == value]
    return np.asarray(hits, dtype=dtype)


def _count_file(path: str, shared: tuple[list[float], Atlas | None]) -> tuple:
    labels, atlas = shared
    info, chunks = open_volume(path)
    with closing(chunks):  # the file is closed however the count ends
        if atlas is not None:
            check_same_grid(info, atlas)
        return _count_chunks(info, chunks, labels, atlas)


def _count_chunks(info: VolumeInfo, chunks: Chunks, labels: list[float],
                  atlas: Atlas | None) -> tuple:
    targets = [_stored_targets(info, value) for value in labels]
    native = info.dtype.newbyteorder("=")
    swap = native != info.dtype and not np.issubdtype(native, np.floating)
    if swap:  # compare byte patterns: exact for integers, and no byte-swapping of the data
        targets = [t.view(native) for t in targets]
    counts = np.zeros(len(labels), dtype=np.int64)
    n_codes = 0 if atlas is None else atlas.n_regions + 1
    regions = np.zeros((len(labels), n_codes), dtype=np.int64)
    # Integer storage with whole-number scaling can only hold whole numbers; anything
    # else is checked chunk by chunk against the label-map rule (as the atlas is).
    check_whole = np.issubdtype(info.dtype, np.floating) or (
        info.scaled and not (info.slope.is_integer() and info.inter.is_integer()))
    start = 0
    for chunk in chunks:
        if swap:
            chunk = chunk.view(native)
        codes = None if atlas is None else atlas.codes[start : start + chunk.size]
        start += chunk.size
        scaled = None
        if check_whole:
            if info.scaled:
                scaled = chunk.astype(np.float64) * info.slope + info.inter
            problem = label_problem(chunk if scaled is None else scaled)
            if problem is not None:
                raise ImageReadError(f"{info.path}: {problem}")
        for k, stored in enumerate(targets):
            if stored is None:
                if scaled is None:
                    scaled = chunk.astype(np.float64) * info.slope + info.inter
                hit = scaled == labels[k]
            elif stored.size == 0:
                continue
            elif stored.size == 1:
                hit = chunk == stored[0]
            else:
                hit = np.isin(chunk, stored)
            if codes is None:
                counts[k] += np.count_nonzero(hit)
            else:
                per_region = np.bincount(codes[hit], minlength=n_codes)
                regions[k] += per_region
                counts[k] += per_region.sum()
    return info.voxel_mm3, counts, regions[:, 1:]


@formerly_positional("label", "atlas", "n_jobs", "errors", "progress")
def lesion_volumes(
    paths: PathLike | Iterable[PathLike],
    *,
    label: float | Sequence[float] | Mapping[str, float] = 9,
    atlas: Any = None,
    n_jobs: int | None = 1,
    errors: Literal["raise", "coerce"] = "raise",
    progress: bool = True,
    lookup: LookupLike | None = None,
) -> pd.DataFrame:
    """Volume of a label (e.g. BISON's WMH, 9) in each label map, optionally per atlas region.

    Parameters
    ----------
    paths : path or iterable of paths
        Label maps: NIfTI-1/2 (``.nii``, ``.nii.gz``), MINC (``.mnc``) or anything
        nibabel reads. Stored as any integer type (either byte order, with or
        without ``scl_slope``/``scl_inter``) or as floats.
    label : number, list of numbers or dict name -> number, default 9
        The label(s) to count. A single number gives the columns ``n_voxels`` and
        ``volume_mm3``; a list gives ``n_voxels_<label>``/``volume_mm3_<label>``
        (``label=[8, 9]`` -> ``volume_mm3_8``, ``volume_mm3_9``); a dict gives
        ``volume_mm3_<name>`` (``{"wm": 8, "wmh": 9}``). ``BISON_LABELS`` lists BISON's.
    atlas : path or nibabel image, optional
        A region label image on the same grid as every map (shape and affine), e.g.
        lobes or tracts; adds ``volume_mm3_<region>`` per region (0 is background).
    n_jobs : int or None, default 1
        Parallel workers (joblib). 1 runs in this process; -1 uses every core; None
        defers to ``joblib.parallel_config``. Under
        ``joblib.parallel_config(backend="dask")`` with a ``dask.distributed``
        ``Client``, the work runs on the cluster (pass ``n_jobs=-1``).
    errors : {"raise", "coerce"}, default "raise"
        What a file that cannot be measured does -- missing, unreadable, not a regular
        file (a folder, FIFO or device), truncated, corrupt (header or gzip stream),
        not 3-D, of an unsupported data type (RGB, complex), holding non-integer
        labels, too large for memory, or on another grid than the atlas:
        ``"raise"`` stops with an error naming the file
        (:class:`~alsstats.errors.ImageReadError`, or
        :class:`~alsstats.errors.DataValidationError` for a grid mismatch);
        ``"coerce"`` gives that row missing values and the reason in ``error`` and
        keeps every other row, exact and in order. Only a bug in alsstats itself
        propagates.
    progress : bool, default True
        Show a tqdm progress bar (only when stderr is a terminal).
    lookup : mapping, Series, DataFrame or path, optional
        Region id -> name for the atlas: a dict, a two-column CSV/TSV (id, name) or a
        FreeSurfer-style LUT text file. Without it regions are named by their id.

    Returns
    -------
    pandas.DataFrame
        One row per path, in input order:

        - ``path`` : str, the file as given.
        - ``n_voxels`` (or ``n_voxels_<label>``) : int, voxels with the label
          (nullable ``Int64`` when ``errors="coerce"``).
        - ``voxel_mm3`` : float, the volume of one voxel, the product of the
          header's zooms (NIfTI spatial units honoured).
        - ``volume_mm3`` (or ``volume_mm3_<label>``) : float, ``n_voxels * voxel_mm3``.
        - ``volume_mm3_<region>`` (or ``volume_mm3_<label>_<region>``) : float, with
          ``atlas`` only: label volume inside each region.
        - ``error`` : str, with ``errors="coerce"`` only: why the row is missing
          (None for rows that were read).

        ``attrs`` records the labels, the atlas and its region ids.

    Raises
    ------
    ImageReadError
        A file cannot be measured (see ``errors``; with ``errors="raise"``), or the
        atlas cannot be read (always).
    DataValidationError
        A map and the atlas are on different grids (``errors="raise"``); a bad atlas
        or lookup table (always).

    Notes
    -----
    The label test is exact on the stored integers: a map with ``scl_slope``/
    ``scl_inter`` is compared on the real values (``stored * slope + inter`` in
    float64, as nibabel's ``get_fdata`` gives them), found without converting the
    image by un-scaling the label to the stored value(s) that produce it. Float
    maps are compared exactly. MINC keeps integers rescaled through
    ``image-min``/``image-max`` slice by slice; nibabel returns those real values
    and they are rounded to the nearest integer, which recovers every label when
    the quantisation step is below 1 (this rounding is the one tolerance).

    One rule holds for every label map, here and for the atlas (and for
    :func:`~alsstats.imaging.roi_intensity`'s reference maps): its real values are
    whole numbers. A float (or scaled) map holding 8.9999, NaN or an infinity --
    typically a segmentation resampled with a smooth interpolator -- is an error
    naming the file and a value, never counted as "not 9".

    Headers are checked before any voxel is read: ``dim[0]`` in 1..7, every
    dimension >= 1, at most ``alsstats.imaging._fastnifti.MAX_VOXELS`` (2**28)
    voxels (computed without integer overflow), finite positive voxel sizes, a
    valid ``vox_offset`` and a finite voxel-to-world transform; anything else is
    a corrupt header. A file holding more than 1 MiB beyond the voxels its header
    declares is refused as well. Only regular files are opened (a FIFO or device
    named ``x.nii.gz`` is an error, never a hang).

    NIfTI files are read without nibabel's data path: the file is read in 64 KiB
    pieces, inflated with ISA-L in 256 KiB pieces, each counted while still in
    cache; extensions before the voxels are skipped by seeking (or by dropping
    inflated pieces) however long they are. No
    large temporary is made, so the result does not depend on glibc's malloc
    thresholds (which Dask's nanny lowers) and the process environment is left
    alone. MINC2 (HDF5) files need ``h5py``; on network file systems (NFS, Lustre) where
    HDF5's file locking fails ("unable to lock file"), set ``HDF5_USE_FILE_LOCKING=FALSE``
    in the environment before starting Python.

    With ``n_jobs`` other than 1, a worker process that dies -- killed by the
    kernel's out-of-memory killer, or crashed by a C library on a malformed file --
    costs only the file it was processing: the results already received are kept,
    the files that were in flight are run again (one per task, in fresh worker
    processes, never in this one) until the file whose processing kills its worker
    is found, and that file fails like an unreadable one (its ``error`` reads
    "the worker processing this file was terminated (exit codes ...)"; with
    ``errors="raise"``, an :class:`~alsstats.errors.ImageReadError` naming it).
    Each crash restarts the worker pool (a few restarts per such file). This covers
    joblib's process pools (loky, the default). Under the Dask backend Dask itself
    retries a task whose worker died and then fails it with ``KilledWorker``, which
    would be recovered the same way, but joblib (1.6, with distributed 2026.8) did
    not pass it on in our trial: the call kept waiting.

    Examples
    --------
    >>> import tempfile, pathlib, numpy as np, nibabel as nib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> seg = np.zeros((10, 10, 10), np.uint8)
    >>> seg[2:4, 2:4, 2:4] = 9
    >>> nib.save(nib.Nifti1Image(seg, np.diag([0.9, 0.9, 3.0, 1.0])), folder / "s1.nii.gz")
    >>> table = lesion_volumes([folder / "s1.nii.gz"], progress=False)
    >>> int(table.loc[0, "n_voxels"]), round(float(table.loc[0, "volume_mm3"]), 3)
    (8, 19.44)
    """
    coerce = check_errors_mode(errors)
    files = _as_paths(paths)
    values, suffixes = _as_labels(label)
    atlas_obj = load_atlas(atlas, lookup) if atlas is not None else None
    results = map_files(
        _count_file,
        files,
        (values, atlas_obj),
        n_jobs=n_jobs,
        coerce=coerce,
        progress=progress,
        desc="lesion volumes",
    )
    table = _table(files, values, suffixes, atlas_obj, results, coerce)
    table.attrs["label"] = values
    table.attrs["atlas"] = None if atlas_obj is None else atlas_obj.name
    if atlas_obj is not None:
        table.attrs["regions"] = dict(zip(atlas_obj.region_names, atlas_obj.region_ids.tolist(), strict=True))
    return table


def _table(
    files: list[str],
    values: list[float],
    suffixes: list[str] | None,
    atlas: Atlas | None,
    results: list[tuple[str, Any]],
    coerce: bool,
) -> pd.DataFrame:
    n, k = len(files), len(values)
    n_regions = 0 if atlas is None else atlas.n_regions
    ok = np.array([kind == "ok" for kind, _ in results], dtype=bool)
    voxel = np.full(n, np.nan)
    counts = np.zeros((n, k), dtype=np.int64)
    regions = np.zeros((n, k, n_regions), dtype=np.int64)
    for i, (kind, payload) in enumerate(results):
        if kind == "ok":
            voxel[i], counts[i], regions[i] = payload
    volumes = counts * voxel[:, None]
    region_volumes = regions * voxel[:, None, None]
    if coerce:
        volumes[~ok] = np.nan
        region_volumes[~ok] = np.nan

    def tag(j: int) -> str:
        return "" if suffixes is None else f"_{suffixes[j]}"

    columns: dict[str, Any] = {"path": files}
    for j in range(k):
        column = counts[:, j]
        if coerce:
            column = pd.array(column, dtype="Int64")
            column[~ok] = pd.NA
        columns[f"n_voxels{tag(j)}"] = column
    columns["voxel_mm3"] = voxel
    for j in range(k):
        columns[f"volume_mm3{tag(j)}"] = volumes[:, j]
    if atlas is not None:
        for j in range(k):
            for r, name in enumerate(atlas.region_names):
                columns[f"volume_mm3{tag(j)}_{name}"] = region_volumes[:, j, r]
    if coerce:
        columns["error"] = [
            None if kind == "ok" else error_text(kind, payload) for kind, payload in results
        ]
    return pd.DataFrame(columns)
