"""Mean (normalised) FLAIR intensity per atlas region, as in quantitative FLAIR studies."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack, closing
from typing import Any, Literal

import numpy as np
import pandas as pd

from alsstats.errors import DataValidationError, ImageReadError
from alsstats.imaging._atlas import AFFINE_ATOL_MM, Atlas, LookupLike, check_same_grid, load_atlas
from alsstats.imaging._batch import check_errors_mode, error_text, map_files
from alsstats.imaging._fastnifti import VolumeInfo, label_problem, open_volume

__all__ = ["NORMALIZATIONS", "roi_intensity"]

Normalizer = Callable[[np.ndarray, np.ndarray, "np.ndarray | None"], np.ndarray]

NORMALIZATIONS: dict[str, str] = {
    "nawm_ratio": "ROI mean / mean of normal-appearing white matter (reference label map)",
    "zscore_wm": "(ROI mean - NAWM mean) / NAWM standard deviation (ddof=1)",
    "reference_roi": "ROI mean / mean of one atlas region (reference_region)",
    "none": "raw ROI mean, no normalisation",
}
"""The built-in normalisations; ``normalize`` also takes a callable."""


class _Moments:
    """Count, mean and sum of squared deviations, merged block by block (Chan et al.)."""

    def __init__(self) -> None:
        self.n, self.mean, self.m2 = 0, 0.0, 0.0

    def add(self, values: np.ndarray) -> None:
        n = values.size
        if n == 0:
            return
        mean = float(values.mean())
        m2 = float(((values - mean) ** 2).sum())
        total = self.n + n
        delta = mean - self.mean
        self.mean += delta * n / total
        self.m2 += m2 + delta * delta * self.n * n / total
        self.n = total


class _Take:
    """Cut a stream of 1-D chunks into pieces of the sizes asked for."""

    def __init__(self, chunks: Iterator[np.ndarray]) -> None:
        self.chunks, self.buffer = chunks, np.empty(0)

    def take(self, n: int) -> np.ndarray:
        parts, have = [], 0
        while have < n:
            if self.buffer.size == 0:
                self.buffer = next(self.chunks)
            part = self.buffer[: n - have]
            self.buffer = self.buffer[part.size :]
            parts.append(part)
            have += part.size
        return parts[0] if len(parts) == 1 else np.concatenate(parts)


def _real(info: VolumeInfo, stored: np.ndarray) -> np.ndarray:
    values = stored.astype(np.float64)
    if info.scaled:
        values = values * info.slope + info.inter
    return values


def _same_grid(a: VolumeInfo, b: VolumeInfo) -> bool:
    return tuple(a.shape) == tuple(b.shape) and bool(
        np.allclose(a.affine, b.affine, rtol=0, atol=AFFINE_ATOL_MM))


def _measure(item: tuple[str, str | None], shared: tuple) -> tuple:
    with ExitStack() as files:  # every file is closed however the measurement ends
        return _measure_files(item, shared, files)


def _measure_files(item: tuple[str, str | None], shared: tuple, files: ExitStack) -> tuple:
    path, reference_path = item
    atlas, method, reference_label, reference_code = shared
    # Headers first: every grid is checked before a voxel is read or memory is taken.
    info, chunks = open_volume(path, labels=False)
    files.enter_context(closing(chunks))
    check_same_grid(info, atlas, what="image")
    references = None
    if reference_path is not None:
        ref_info, ref_chunks = open_volume(reference_path, labels=True)
        files.enter_context(closing(ref_chunks))
        if not _same_grid(ref_info, info):
            raise DataValidationError(
                [f"image {path} and reference {reference_path} are on different grids"]
            )
        references = _Take(ref_chunks)
    size = atlas.n_regions + 1
    sums = np.zeros(size)
    counts = np.zeros(size, dtype=np.int64)
    moments = _Moments()
    keep = callable(method)
    image_parts: list[np.ndarray] = []
    mask_parts: list[np.ndarray] = []
    start = 0
    for chunk in chunks:
        values = _real(info, chunk)
        finite = np.isfinite(values)
        codes = atlas.codes[start : start + values.size]
        sums += np.bincount(codes[finite], weights=values[finite], minlength=size)
        counts += np.bincount(codes[finite], minlength=size)
        mask = None
        if references is not None:
            tissue = references.take(values.size)
            if ref_info.scaled:
                tissue = _real(ref_info, tissue)
            problem = label_problem(tissue)
            if problem is not None:
                raise ImageReadError(f"{reference_path}: {problem}")
            mask = (tissue == reference_label) & finite
        elif reference_code is not None:
            mask = (codes == reference_code) & finite
        if mask is not None:
            moments.add(values[mask])
        if keep:
            image_parts.append(values)
            if mask is not None:
                mask_parts.append(mask)
        start += values.size
    with np.errstate(invalid="ignore", divide="ignore"):
        means = sums / counts
    ref_mean = ref_sd = np.nan
    ref_n = 0
    if references is not None or reference_code is not None:
        ref_n = moments.n
        if ref_n == 0:
            raise DataValidationError([f"image {path}: the reference region is empty"])
        ref_mean = moments.mean
        ref_sd = float(np.sqrt(moments.m2 / (ref_n - 1))) if ref_n > 1 else np.nan
    roi = means[1:]
    if keep:
        image = np.concatenate(image_parts).reshape(info.shape, order="F")
        reference = np.concatenate(mask_parts).reshape(info.shape, order="F") if mask_parts \
            else None
        out = np.asarray(method(roi, image, reference), dtype=np.float64)
        if out.shape != roi.shape:
            raise ValueError(f"normalize returned shape {out.shape}, expected {roi.shape}")
    elif method in ("nawm_ratio", "reference_roi"):
        out = roi / ref_mean
    elif method == "zscore_wm":
        out = (roi - ref_mean) / ref_sd
    else:
        out = roi
    return out, counts[1:], ref_mean, ref_sd, ref_n


def roi_intensity(
    images: str | os.PathLike | Iterable[str | os.PathLike],
    atlas: Any,
    normalize: Literal["nawm_ratio", "zscore_wm", "reference_roi"] | Normalizer | None = "nawm_ratio",
    *,
    reference: Sequence[str | os.PathLike] | None = None,
    reference_label: float = 8,
    reference_region: int | str | None = None,
    lookup: LookupLike | None = None,
    n_jobs: int | None = 1,
    errors: Literal["raise", "coerce"] = "raise",
    progress: bool = True,
) -> pd.DataFrame:
    """Mean FLAIR intensity in each atlas region (e.g. corticospinal tract, corpus callosum).

    Parameters
    ----------
    images : path or iterable of paths
        FLAIR images (any scaling; NaN voxels ignored), all on the atlas grid.
    atlas : path or nibabel image
        Region label image (0 = background) on the images' grid.
    normalize : {"nawm_ratio", "zscore_wm", "reference_roi"}, callable or None
        How each region's mean is made comparable across scans and scanners:

        - ``"nawm_ratio"`` (default): divided by the mean in normal-appearing white
          matter, the voxels labelled ``reference_label`` in each image's
          ``reference`` label map (BISON: 8 = WM, which excludes WMH, 9);
        - ``"zscore_wm"``: ``(mean - NAWM mean) / NAWM sd`` (sd with ddof=1);
        - ``"reference_roi"``: divided by the mean in the atlas region
          ``reference_region`` (id or name), e.g. a cerebellar or frontal WM region;
        - ``None``: the raw mean;
        - a callable ``f(means, image, reference_mask) -> normalised means`` with
          ``means`` the raw region means (1-D, atlas region order), ``image`` the 3-D
          real-valued image and ``reference_mask`` the boolean NAWM (or reference
          region) mask or None.
    reference : sequence of paths, optional
        One tissue label map per image (same grid) for the NAWM-based methods.
    reference_label : float, default 8
        The NAWM label in ``reference``.
    reference_region : int or str, optional
        Atlas region (id, or its name from ``lookup``) for ``"reference_roi"``.
    lookup : mapping, Series, DataFrame or path, optional
        Region id -> name (see :func:`~alsstats.imaging.lesion_volumes`).
    n_jobs, errors, progress
        As in :func:`~alsstats.imaging.lesion_volumes`.

    Returns
    -------
    pandas.DataFrame
        One row per image, in input order:

        - ``path`` : str.
        - ``flair_<region>`` : float, the (normalised) mean intensity in each region
          (NaN for a region with no voxels).
        - ``n_voxels_<region>`` : int, finite voxels counted in each region.
        - ``reference_mean``, ``reference_sd``, ``reference_n_voxels`` : the
          reference (NAWM or reference region) mean, sd (ddof=1) and size; NaN and 0
          when ``normalize`` uses none.
        - ``error`` : str, with ``errors="coerce"`` only (None for rows that were read).

        ``attrs["normalize"]`` records the method.

    Notes
    -----
    Every image's (and reference map's) header is checked against the atlas grid
    before any voxel is read, and the voxels are then streamed in small chunks
    (only a ``normalize`` callable, which receives the whole image, makes the image
    exist in memory at once), so a corrupt header or a gzip bomb cannot make
    alsstats allocate what it claims. Reference maps are label maps and follow
    :func:`~alsstats.imaging.lesion_volumes`' rule: whole numbers only.

    Fabes et al. (2017) normalised FLAIR signal before comparing patients and
    controls, but the exact normalisation they used is not public; the methods here
    are common choices, and none is claimed to reproduce theirs. A region mean is the
    plain mean of the image's real values (``scl_slope``/``scl_inter`` applied) over
    the region's finite voxels; no partial-volume weighting is done.

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
    >>> import numpy as np, nibabel as nib
    >>> image = nib.Nifti1Image(np.arange(8, dtype=np.float32).reshape(2, 2, 2), np.eye(4))
    >>> regions = nib.Nifti1Image(np.array([[[1, 1], [2, 2]], [[1, 1], [2, 2]]], np.uint8),
    ...                           np.eye(4))
    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "flair.nii.gz")
    >>> nib.save(image, path)
    >>> table = roi_intensity([path], regions, normalize="reference_roi", reference_region=1,
    ...                       progress=False)
    >>> float(table.loc[0, "flair_2"])  # region 2 mean 4.5 over region 1 mean 2.5
    1.8
    """
    coerce = check_errors_mode(errors)
    if isinstance(images, (str, os.PathLike)):
        images = [images]
    files = [os.fspath(p) for p in images]
    method: Any = "none" if normalize is None else normalize
    if not callable(method) and method not in NORMALIZATIONS:
        raise ValueError(f"normalize must be one of {sorted(NORMALIZATIONS)}, None or a "
                         f"callable; got {normalize!r}")
    atlas_obj: Atlas = load_atlas(atlas, lookup)
    refs: list[str | None] = [None] * len(files)
    reference_code = None
    if method in ("nawm_ratio", "zscore_wm") or (callable(method) and reference is not None):
        if reference is None:
            raise ValueError(f'normalize="{method}" needs reference= (one tissue label map per '
                             "image, e.g. BISON's, whose label reference_label is NAWM)")
        refs = [os.fspath(p) for p in reference]
        if len(refs) != len(files):
            raise ValueError(f"reference has {len(refs)} maps for {len(files)} images")
    elif method == "reference_roi":
        reference_code = _region_code(atlas_obj, reference_region)
    results = map_files(
        _measure,
        list(zip(files, refs, strict=True)),
        (atlas_obj, method, float(reference_label), reference_code),
        n_jobs=n_jobs,
        coerce=coerce,
        progress=progress,
        desc="ROI intensity",
    )
    table = _table(files, atlas_obj, results, coerce)
    table.attrs["normalize"] = getattr(method, "__name__", method)
    table.attrs["atlas"] = atlas_obj.name
    return table


def _region_code(atlas: Atlas, region: int | str | None) -> int:
    if region is None:
        raise ValueError('normalize="reference_roi" needs reference_region= (an atlas id or name)')
    for code, (rid, name) in enumerate(zip(atlas.region_ids, atlas.region_names, strict=True), 1):
        if (isinstance(region, str) and region in (name, str(rid))) or (
            not isinstance(region, str) and int(region) == rid
        ):
            return code
    raise ValueError(f"reference_region {region!r} is not a region of atlas {atlas.name} "
                     f"(regions: {dict(zip(atlas.region_names, atlas.region_ids.tolist(), strict=True))})")


def _table(files, atlas: Atlas, results, coerce: bool) -> pd.DataFrame:
    n, r = len(files), atlas.n_regions
    means = np.full((n, r), np.nan)
    counts = np.zeros((n, r), dtype=np.int64)
    ref = np.full((n, 2), np.nan)
    ref_n = np.zeros(n, dtype=np.int64)
    ok = np.array([kind == "ok" for kind, _ in results], dtype=bool)
    for i, (kind, payload) in enumerate(results):
        if kind == "ok":
            means[i], counts[i], ref[i, 0], ref[i, 1], ref_n[i] = payload
    columns: dict[str, Any] = {"path": files}
    for j, name in enumerate(atlas.region_names):
        columns[f"flair_{name}"] = means[:, j]
    for j, name in enumerate(atlas.region_names):
        column: Any = counts[:, j]
        if coerce:
            column = pd.array(column, dtype="Int64")
            column[~ok] = pd.NA
        columns[f"n_voxels_{name}"] = column
    columns["reference_mean"] = ref[:, 0]
    columns["reference_sd"] = ref[:, 1]
    columns["reference_n_voxels"] = ref_n
    if coerce:
        column = pd.array(ref_n, dtype="Int64")
        column[~ok] = pd.NA
        columns["reference_n_voxels"] = column
        columns["error"] = [None if k == "ok" else error_text(k, p) for k, p in results]
    return pd.DataFrame(columns)
