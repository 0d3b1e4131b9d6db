"""Reading label maps and intensity images as a stream of voxel chunks.

NIfTI-1/2 files (``.nii``, ``.nii.gz``) are read here without nibabel's data
machinery: the compressed file is read whole, inflated with ISA-L (``isal``) in
fixed-size pieces, the header is parsed from the first bytes (by nibabel's header
classes) and the voxels are viewed with :func:`numpy.frombuffer`, one chunk at a
time. Every buffer stays small (a quarter of a MiB), so nothing page-faults, the
chunk being counted is still in cache, and glibc's malloc thresholds (which Dask's
nanny lowers on its workers) do not matter. MINC and every other format go through
nibabel and are then cut into the same chunks.

Chunks are 1-D views of the voxels in file order (Fortran order of the logical
array: the first axis varies fastest), carrying the *stored* values; the scaling
(``scl_slope``/``scl_inter`` or MINC's image-min/max) is described by
:class:`VolumeInfo` and applied, or undone, by the caller.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from isal import isal_zlib

from alsstats.errors import ImageReadError

__all__ = ["VolumeInfo", "open_volume", "read_volume"]

CHUNK_BYTES = 1 << 18
"""Inflated bytes per chunk: small enough to stay in L2 cache, large enough that
the per-chunk Python overhead is negligible (128 KiB - 512 KiB measured alike)."""

_INPUT_PIECE = 1 << 16
_GZIP_MAGIC = b"\x1f\x8b"
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
_NETCDF_MAGIC = b"CDF"
_NIFTI_SIZES = {348: 1, 540: 2}
_SPACE_UNIT_MM = {"mm": 1.0, "meter": 1000.0, "micron": 1e-3, "unknown": 1.0}


@dataclass(frozen=True)
class VolumeInfo:
    """What the header says about an image.

    Attributes
    ----------
    path : str
        The file.
    shape : tuple of int
        The 3-D grid (trailing axes of length 1 dropped).
    affine : ndarray
        4 x 4 voxel-to-world matrix (nibabel's ``img.affine``).
    zooms : tuple of float
        Voxel edge lengths in mm (NIfTI ``xyzt_units`` honoured; unknown units
        are taken as mm).
    dtype : numpy.dtype
        Dtype of the stored values, with the file's byte order.
    slope, inter : float
        Scaling: real value = stored * slope + inter (1 and 0 when unscaled).
    format : str
        ``"nifti1"``, ``"nifti2"``, ``"minc1"``, ``"minc2"`` or nibabel's class name.
    """

    path: str
    shape: tuple[int, ...]
    affine: np.ndarray
    zooms: tuple[float, ...]
    dtype: np.dtype
    slope: float
    inter: float
    format: str

    @property
    def voxel_mm3(self) -> float:
        """Volume of one voxel in mm3."""
        return float(np.prod(self.zooms, dtype=np.float64))

    @property
    def n_voxels(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def scaled(self) -> bool:
        return self.slope != 1.0 or self.inter != 0.0


def _fail(path: str, why: str) -> ImageReadError:
    return ImageReadError(f"{path}: {why}")


def _grid3d(path: str, shape: tuple[int, ...]) -> tuple[int, ...]:
    shape = tuple(int(s) for s in shape)
    while len(shape) > 3 and shape[-1] == 1:
        shape = shape[:-1]
    if len(shape) != 3:
        raise _fail(path, f"expected a 3-D image, the header gives shape {shape}")
    return shape


def _byte_chunks(path: str) -> Iterator[bytes]:
    """The file's bytes, inflated when gzip-compressed, in pieces of <= CHUNK_BYTES."""
    try:
        with open(path, "rb") as stream:
            magic = stream.read(2)
            stream.seek(0)
            if magic != _GZIP_MAGIC:
                while piece := stream.read(CHUNK_BYTES):
                    yield piece
                return
            raw = stream.read()
    except FileNotFoundError:
        raise _fail(path, "file not found") from None
    except IsADirectoryError:
        raise _fail(path, "is a directory, not an image") from None
    except OSError as exc:
        raise _fail(path, f"cannot be read ({exc.strerror or exc})") from exc
    yield from _inflate(path, raw)


def _inflate(path: str, raw: bytes) -> Iterator[bytes]:
    # Input goes in 64 KiB pieces so that unconsumed_tail (a copy) stays small;
    # output is capped per call so every chunk is a small, cache-resident buffer.
    view = memoryview(raw)
    pos = 0
    inflater = isal_zlib.decompressobj(wbits=31)
    pending: bytes | memoryview = b""
    try:
        while True:
            if not pending:
                if pos >= len(view):
                    raise _fail(path, "truncated gzip stream (the file ends before the data do)")
                pending = view[pos : pos + _INPUT_PIECE]
                pos += len(pending)
            out = inflater.decompress(pending, CHUNK_BYTES)
            pending = inflater.unconsumed_tail
            if out:
                yield out
            if inflater.eof:
                rest = inflater.unused_data + bytes(view[pos:])
                if not rest.startswith(_GZIP_MAGIC):
                    return  # trailing bytes after the last member are ignored, as gzip does
                view, pos, pending = memoryview(rest), 0, b""
                inflater = isal_zlib.decompressobj(wbits=31)
    except isal_zlib.error as exc:
        raise _fail(path, f"corrupt gzip stream ({exc})") from None


def _parse_nifti_header(path: str, head: bytes):
    import nibabel as nib

    if len(head) < 4:
        raise _fail(path, "file too short to hold a NIfTI header")
    little = int.from_bytes(head[:4], "little")
    big = int.from_bytes(head[:4], "big")
    size = little if little in _NIFTI_SIZES else big if big in _NIFTI_SIZES else None
    if size is None:
        raise _fail(path, f"not a NIfTI file (sizeof_hdr {little} is neither 348 nor 540)")
    if len(head) < size:
        raise _fail(path, f"truncated NIfTI header ({len(head)} of {size} bytes)")
    klass = nib.Nifti1Header if size == 348 else nib.Nifti2Header
    try:
        header = klass(binaryblock=head[:size], check=True)
        magic = bytes(header["magic"]).rstrip(b"\x00")
        if magic not in (b"n+1", b"n+2"):
            raise ValueError(f"magic {magic!r} is not that of a single-file NIfTI (n+1, n+2)")
        dtype = header.get_data_dtype()
        shape = _grid3d(path, header.get_data_shape())
        zooms = tuple(float(z) for z in header.get_zooms()[:3])
        affine = header.get_best_affine()
        slope, inter = header.get_slope_inter()
        unit = header.get_xyzt_units()[0]
        offset = int(header.get_data_offset())
    except ImageReadError:
        raise
    except Exception as exc:  # nibabel raises a zoo of classes for a bad header
        raise _fail(path, f"corrupt NIfTI header ({exc})") from None
    if offset < size + 4:
        raise _fail(path, f"corrupt NIfTI header (vox_offset {offset} < {size + 4})")
    scale = _SPACE_UNIT_MM.get(unit, 1.0)
    info = VolumeInfo(
        path=path,
        shape=shape,
        affine=affine,
        zooms=tuple(z * scale for z in zooms),
        dtype=dtype,
        slope=1.0 if slope is None else float(slope),
        inter=0.0 if inter is None else float(inter),
        format=f"nifti{_NIFTI_SIZES[size]}",
    )
    return info, offset


def _nifti_stream(path: str, pieces: Iterator[bytes]) -> tuple[VolumeInfo, Iterator[np.ndarray]]:
    head = b""
    for piece in pieces:
        head += piece
        if len(head) >= 540:
            break
    info, offset = _parse_nifti_header(path, head)
    while len(head) < offset:
        piece = next(pieces, None)
        if piece is None:
            raise _fail(path, f"truncated: the file ends before the voxel data (offset {offset})")
        head += piece
    return info, _voxel_chunks(info, head[offset:], pieces)


def _voxel_chunks(info: VolumeInfo, first: bytes, pieces: Iterator[bytes]) -> Iterator[np.ndarray]:
    size = info.dtype.itemsize
    left = info.n_voxels
    carry = b""
    for piece in _prepend(first, pieces):
        if carry:  # an element split across two pieces
            piece = carry + piece
        n = min(len(piece) // size, left)
        if n:
            yield np.frombuffer(piece, dtype=info.dtype, count=n)
            left -= n
        if left == 0:
            for _ in pieces:  # drain: the gzip CRC and length are checked at the end
                pass
            return
        carry = piece[n * size :]
    raise _fail(
        info.path,
        f"truncated: holds {info.n_voxels - left} of the {info.n_voxels} voxels its header declares",
    )


def _prepend(first: bytes, pieces: Iterator[bytes]) -> Iterator[bytes]:
    if first:
        yield first
    yield from pieces


def _nibabel_array(path: str, labels: bool = True) -> tuple[VolumeInfo, np.ndarray]:
    """Any format nibabel reads; returns the stored values where nibabel exposes them.

    With ``labels``, integer MINC images (whose real values nibabel rescales slice by slice)
    are rounded to whole numbers, as a label map's must be; intensity images keep their
    real values.
    """
    import nibabel as nib
    from nibabel.arrayproxy import ArrayProxy

    with open(path, "rb") as stream:
        magic = stream.read(8)
    if magic.startswith(_HDF5_MAGIC):
        try:
            import h5py  # noqa: F401
        except ImportError:
            raise _fail(
                path,
                "is a MINC2 (HDF5) file; reading MINC2 needs h5py (pip install h5py), "
                "or convert it with mincconvert to MINC1",
            ) from None
    try:
        image = nib.load(path)
        dataobj = image.dataobj
        slope, inter = 1.0, 0.0
        if isinstance(dataobj, ArrayProxy):
            data = dataobj.get_unscaled()
            slope, inter = float(dataobj.slope), float(dataobj.inter)
        else:
            data = np.asanyarray(dataobj)
        fmt = type(image).__name__
        if magic.startswith(_NETCDF_MAGIC):
            fmt = "minc1"
        elif magic.startswith(_HDF5_MAGIC):
            fmt = "minc2"
        if (labels and fmt.startswith("minc")
                and not np.issubdtype(image.get_data_dtype(), np.floating)):
            # MINC stores integers rescaled slice by slice through image-min/max;
            # nibabel returns the real values, which for a label map are integers
            # up to the rounding of that rescaling.
            data = np.rint(data).astype(np.int64)
        shape = _grid3d(path, data.shape)
        data = data.reshape(shape)
        affine = np.asarray(image.affine, dtype=np.float64)
        if fmt.startswith("minc"):
            # nibabel's MINC header keeps the steps in float32; the affine has them in full
            zooms = tuple(float(z) for z in np.sqrt((affine[:3, :3] ** 2).sum(axis=0)))
        else:
            zooms = tuple(float(z) for z in image.header.get_zooms()[:3])
        info = VolumeInfo(
            path=path,
            shape=shape,
            affine=affine,
            zooms=zooms,
            dtype=data.dtype,
            slope=slope,
            inter=inter,
            format=fmt,
        )
    except ImageReadError:
        raise
    except FileNotFoundError:
        raise _fail(path, "file not found") from None
    except Exception as exc:
        raise _fail(path, f"cannot be read by nibabel ({type(exc).__name__}: {exc})") from None
    return info, data


def _is_nifti_name(path: str) -> bool:
    name = path.lower()
    return name.endswith((".nii", ".nii.gz"))


def open_volume(path: str | os.PathLike[str], labels: bool = True
                ) -> tuple[VolumeInfo, Iterator[np.ndarray]]:
    """Header information and an iterator over the stored voxel values.

    ``labels`` says the image is a label map (see :func:`_nibabel_array`); pass False for
    intensity images.

    The iterator yields 1-D arrays in file (Fortran) order whose lengths add up
    to ``info.n_voxels``; errors in the data (truncation, a bad gzip CRC) are
    raised as :class:`~alsstats.errors.ImageReadError` while iterating.
    """
    path = os.fspath(path)
    if _is_nifti_name(path):
        return _nifti_stream(path, _byte_chunks(path))
    if not os.path.exists(path):
        raise _fail(path, "file not found")
    info, data = _nibabel_array(path, labels=labels)
    flat = data.ravel(order="F")
    step = max(1, CHUNK_BYTES // max(1, flat.itemsize))
    return info, (flat[i : i + step] for i in range(0, flat.size, step))


def read_volume(path: str | os.PathLike[str], labels: bool = True
                ) -> tuple[VolumeInfo, np.ndarray]:
    """The whole image as a 3-D array of stored values (apply ``info.slope``/``inter``);
    ``labels=False`` for intensity images (no rounding of rescaled MINC integers)."""
    info, chunks = open_volume(path, labels=labels)
    out = np.empty(info.n_voxels, dtype=info.dtype.newbyteorder("="))
    at = 0
    for chunk in chunks:
        out[at : at + chunk.size] = chunk
        at += chunk.size
    return info, out.reshape(info.shape, order="F")
