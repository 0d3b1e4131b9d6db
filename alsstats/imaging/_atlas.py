"""Atlases (region label images) and region lookup tables.

An atlas is reduced once, in the parent process, to compact region codes
(0 = outside every region, 1..R = the regions) in file order, so a worker only
needs a ``bincount`` per chunk.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from alsstats.errors import DataValidationError
from alsstats.imaging._fastnifti import VolumeInfo, read_volume

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
        path = Path(lookup)
        if not path.is_file():
            raise DataValidationError([f"lookup table {path}: file not found"])
        if path.suffix.lower() in (".csv", ".tsv"):
            table = pd.read_csv(path, sep=None, engine="python", header=None, dtype=str)
            if not str(table.iloc[0, 0]).strip().lstrip("-").isdigit():
                table = table.iloc[1:]
            pairs = list(zip(table.iloc[:, 0], table.iloc[:, 1], strict=True))
        else:
            pairs = []
            for line in path.read_text().splitlines():
                fields = line.split("#", 1)[0].split()
                if len(fields) >= 2:
                    pairs.append((fields[0], fields[1]))
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


def _atlas_values(atlas: Any) -> tuple[str, tuple[int, ...], np.ndarray, np.ndarray]:
    """(name, shape, affine, real values as a 3-D array) of a path or nibabel image."""
    if isinstance(atlas, (str, os.PathLike)):
        info, stored = read_volume(atlas)
        values = _apply_scaling(info, stored)
        return str(os.fspath(atlas)), info.shape, info.affine, values
    if hasattr(atlas, "dataobj") and hasattr(atlas, "affine"):
        name = atlas.get_filename() if hasattr(atlas, "get_filename") else None
        values = np.asanyarray(atlas.dataobj)
        shape = tuple(values.shape)
        while len(shape) > 3 and shape[-1] == 1:
            shape = shape[:-1]
        if len(shape) != 3:
            raise DataValidationError([f"atlas: expected a 3-D image, got shape {values.shape}"])
        values = values.reshape(shape)
        return name or "<in-memory atlas>", shape, np.asarray(atlas.affine, float), values
    raise TypeError(f"atlas must be a path or a nibabel image, got {type(atlas).__name__}")


def _apply_scaling(info: VolumeInfo, stored: np.ndarray) -> np.ndarray:
    if not info.scaled:
        return stored
    return stored.astype(np.float64) * info.slope + info.inter


def load_atlas(atlas: Any, lookup: LookupLike | None = None) -> Atlas:
    """Read an atlas and name its regions (from ``lookup`` where given, else by id).

    Regions are the ids in ``lookup`` (in its order) followed by any other non-zero
    id present in the atlas, so no labelled voxel is ever left out.
    """
    name, shape, affine, values = _atlas_values(atlas)
    flat = values.ravel(order="F")
    if np.issubdtype(flat.dtype, np.floating):
        bad = ~np.isfinite(flat) | (flat != np.round(flat)) | (flat < 0)
        if bad.any():
            raise DataValidationError(
                [f"atlas {name}: region labels must be non-negative integers; "
                 f"{int(bad.sum())} voxels are not (e.g. {flat[bad][0]!r})"]
            )
        flat = flat.astype(np.int64)
    elif flat.size and flat.min() < 0:
        raise DataValidationError([f"atlas {name}: negative region label {int(flat.min())}"])
    present = np.unique(flat)
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
        pos = np.searchsorted(sorted_ids, flat)
        pos = np.minimum(pos, len(sorted_ids) - 1)
        hit = sorted_ids[pos] == flat
        codes[hit] = (order[pos[hit]] + 1).astype(code_dtype)
    return Atlas(
        name=name,
        shape=tuple(shape),
        affine=affine,
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

