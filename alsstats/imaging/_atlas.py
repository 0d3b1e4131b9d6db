"""Atlases (region label images) and region lookup tables.

An atlas is reduced once, in the parent process, to compact region codes
(0 = outside every region, 1..R = the regions) in file order, so a worker only
needs a ``bincount`` per chunk.
"""

from __future__ import annotations

import csv
import math
import os
import re
from collections.abc import Mapping
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from alsstats.errors import DataValidationError
from alsstats.imaging._fastnifti import MAX_VOXELS, Chunks, VolumeInfo, label_problem, open_volume

__all__ = ["Atlas", "load_atlas", "read_lookup", "check_same_grid", "column_name"]

AFFINE_ATOL_MM = 1e-4
"""Two affines closer than this (element-wise, mm) describe the same grid."""

LookupLike = Mapping[int, str] | pd.Series | pd.DataFrame | str | os.PathLike


@dataclass(frozen=True)
class Atlas:
    """Region codes of an atlas on its grid.

    Attributes
    ----------
    name : str
        The atlas file (or ``"<in-memory atlas>"``), used in messages.
    shape, affine
        The grid.
    codes : ndarray
        1-D, file (Fortran) order: 0 outside, ``k`` inside region ``region_ids[k - 1]``.
    region_ids : ndarray of int64
    region_names : list of str
        Column-safe names (snake_case), one per region.
    """

    name: str
    shape: tuple[int, ...]
    affine: np.ndarray
    codes: np.ndarray
    region_ids: np.ndarray
    region_names: list[str]

    @property
    def n_regions(self) -> int:
        return len(self.region_ids)


def column_name(text: Any) -> str:
    """``"Corticospinal tract (L)"`` -> ``"corticospinal_tract_l"``."""
    name = re.sub(r"[^0-9a-zA-Z]+", "_", str(text)).strip("_").lower()
    return name or "_"


def read_lookup(lookup: LookupLike) -> dict[int, str]:
    """Region id -> name from a mapping, a Series, a two-column table or a LUT file.

    Files: ``.csv``/``.tsv`` tables whose first column holds the ids and second the
    names (a header row is allowed), or whitespace-separated text
    (``id name [r g b a]`` per line, ``#`` comments: FreeSurfer's LUT layout).
    """
    if isinstance(lookup, pd.Series):
        pairs = list(lookup.items())
    elif isinstance(lookup, pd.DataFrame):
        pairs = list(zip(lookup.iloc[:, 0], lookup.iloc[:, 1], strict=True))
    elif isinstance(lookup, Mapping):
        pairs = list(lookup.items())
    else:
        pairs = _read_lookup_file(Path(lookup))
    out: dict[int, str] = {}
    problems = []
    for key, name in pairs:
        try:
            value = float(key)
        except (TypeError, ValueError):
            value = float("nan")
        if not (np.isfinite(value) and value == int(value) and value > 0):
            problems.append(f"lookup table: region id {key!r} is not a positive integer")
            continue
        out[int(value)] = str(name).strip()
    if problems:
        raise DataValidationError(problems)
    return out


def _read_lookup_file(path: Path) -> list[tuple[Any, Any]]:
    if not path.exists():
        raise DataValidationError([f"lookup table {path}: file not found"])
    if not path.is_file():  # a folder, FIFO or device: never opened (a FIFO would block)
        raise DataValidationError([f"lookup table {path}: not a regular file"])
    try:
        if path.suffix.lower() in (".csv", ".tsv"):
            table = pd.read_csv(path, sep=None, engine="python", header=None, dtype=str)
            if table.shape[1] < 2:
                raise DataValidationError([f"lookup table {path}: needs two columns (id, name)"])
            if not str(table.iloc[0, 0]).strip().lstrip("-").isdigit():
                table = table.iloc[1:]
            return list(zip(table.iloc[:, 0], table.iloc[:, 1], strict=True))
        pairs = []
        for line in path.read_text().splitlines():
            fields = line.split("#", 1)[0].split()
            if len(fields) >= 2:
                pairs.append((fields[0], fields[1]))
        return pairs
    except OSError as exc:
        raise DataValidationError(
            [f"lookup table {path}: cannot be read ({exc.strerror or exc})"]) from None
    except (UnicodeDecodeError, csv.Error, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise DataValidationError(
            [f"lookup table {path}: not a readable text table ({exc})"]) from None


def _atlas_chunks(atlas: Any) -> tuple[str, VolumeInfo, Chunks]:
    """(name, header, stored values in file order) of a path or nibabel image; the
    header is checked (3-D, at most MAX_VOXELS) before any voxel is read."""
    if isinstance(atlas, (str, os.PathLike)):
        info, chunks = open_volume(atlas)
        return str(os.fspath(atlas)), info, chunks
    if hasattr(atlas, "dataobj") and hasattr(atlas, "affine"):
        name = (atlas.get_filename() if hasattr(atlas, "get_filename") else None) or \
            "<in-memory atlas>"
        shape = tuple(int(s) for s in atlas.shape)
        while len(shape) > 3 and shape[-1] == 1:
            shape = shape[:-1]
        if len(shape) != 3:
            raise DataValidationError([f"atlas: expected a 3-D image, got shape {atlas.shape}"])
        if math.prod(shape) > MAX_VOXELS:
            raise DataValidationError([f"atlas {name}: {math.prod(shape):,} voxels (shape "
                                       f"{shape}), more than the {MAX_VOXELS:,} alsstats reads"])
        values = np.asanyarray(atlas.dataobj).reshape(shape)
        if values.dtype.kind not in "uif":
            raise DataValidationError([f"atlas {name}: data type {values.dtype} is not a "
                                       "label map's (integers or whole-number floats)"])
        info = VolumeInfo(path=name, shape=shape, affine=np.asarray(atlas.affine, float),
                          zooms=(1.0, 1.0, 1.0), dtype=values.dtype, slope=1.0, inter=0.0,
                          format="in-memory")
        flat = values.ravel(order="F")
        step = 1 << 18
        return name, info, (flat[i : i + step] for i in range(0, flat.size, step))
    raise TypeError(f"atlas must be a path or a nibabel image, got {type(atlas).__name__}")


def _region_values(name: str, info: VolumeInfo, chunks: Chunks) -> np.ndarray:
    """Every voxel's region id (real value), checked by the label-map rule, streamed
    into one array of the stored integer type (int64 for float or scaled atlases)."""
    integer = info.dtype.kind in "ui" and not info.scaled
    out = np.empty(info.n_voxels, dtype=info.dtype.newbyteorder("=") if integer else np.int64)
    at = 0
    for chunk in chunks:
        values = chunk
        if info.scaled:
            values = chunk.astype(np.float64) * info.slope + info.inter
        problem = label_problem(values)
        if problem is not None:
            raise DataValidationError(
                [f"atlas {name}: region labels must be non-negative integers; {problem}"])
        if values.size and values.min() < 0:
            raise DataValidationError([f"atlas {name}: negative region label {values.min()!r}"])
        if not integer and values.size and values.max() >= 2.0**62:
            raise DataValidationError([f"atlas {name}: region label {values.max()!r} is too "
                                       "large to be an id"])
        out[at : at + values.size] = values
        at += values.size
    return out


def load_atlas(atlas: Any, lookup: LookupLike | None = None) -> Atlas:
    """Read an atlas and name its regions (from ``lookup`` where given, else by id).

    Regions are the ids in ``lookup`` (in its order) followed by any other non-zero
    id present in the atlas, so no labelled voxel is ever left out. Its values follow
    the label-map rule of :func:`~alsstats.imaging.lesion_volumes` (whole numbers; no
    NaN, no fraction) and must not be negative.
    """
    name, info, chunks = _atlas_chunks(atlas)
    with closing(chunks):
        flat = _region_values(name, info, chunks)
    step = 1 << 20
    present = np.unique(np.concatenate(
        [np.unique(flat[i : i + step]) for i in range(0, flat.size, step)] or [flat[:0]]))
    present = present[present != 0].astype(np.int64)
    names = read_lookup(lookup) if lookup is not None else {}
    ids = list(names) + [int(i) for i in present if int(i) not in names]
    region_ids = np.asarray(ids, dtype=np.int64)
    region_names = [column_name(names.get(i, i)) for i in ids]
    seen: dict[str, int] = {}
    for rid, rname in zip(ids, region_names, strict=True):
        if rname in seen:
            raise DataValidationError(
                [f"atlas {name}: regions {seen[rname]} and {rid} both give the column name "
                 f"{rname!r}; give them distinct names in the lookup table"]
            )
        seen[rname] = rid
    code_dtype = np.uint8 if len(ids) < 255 else np.uint16 if len(ids) < 65535 else np.int32
    codes = np.zeros(flat.shape, dtype=code_dtype)
    if len(ids):
        order = np.argsort(region_ids)
        sorted_ids = region_ids[order]
        for i in range(0, flat.size, step):  # in pieces: no voxel-sized int64 temporaries
            part = flat[i : i + step]
            pos = np.minimum(np.searchsorted(sorted_ids, part), len(sorted_ids) - 1)
            hit = sorted_ids[pos] == part
            codes[i : i + step][hit] = (order[pos[hit]] + 1).astype(code_dtype)
    return Atlas(
        name=name,
        shape=tuple(info.shape),
        affine=info.affine,
        codes=codes,
        region_ids=region_ids,
        region_names=region_names,
    )


def check_same_grid(info: VolumeInfo, atlas: Atlas, what: str = "mask") -> None:
    """Raise :class:`DataValidationError` naming both files unless the grids agree."""
    if tuple(info.shape) != tuple(atlas.shape):
        raise DataValidationError(
            [f"{what} {info.path} (shape {info.shape}) and atlas {atlas.name} "
             f"(shape {atlas.shape}) are on different grids"]
        )
    if not np.allclose(info.affine, atlas.affine, rtol=0, atol=AFFINE_ATOL_MM):
        gap = float(np.max(np.abs(info.affine - atlas.affine)))
        raise DataValidationError(
            [f"{what} {info.path} and atlas {atlas.name} are on different grids: their affines "
             f"differ by up to {gap:.4g} mm\n{what}:\n{np.array2string(info.affine, precision=4)}"
             f"\natlas:\n{np.array2string(atlas.affine, precision=4)}"]
        )

