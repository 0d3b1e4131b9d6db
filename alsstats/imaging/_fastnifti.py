"""Reading label maps and intensity images as a stream of voxel chunks.

NIfTI-1/2 files (``.nii``, ``.nii.gz``) are read here without nibabel's data
machinery: the header is parsed and checked from the first bytes, a compressed file
is inflated with ISA-L (``isal``) in fixed-size pieces, an uncompressed one is read
from its voxel offset on, and the voxels are viewed with :func:`numpy.frombuffer`, one
chunk at a time. Every buffer stays small (a quarter of a MiB), so nothing page-faults,
the chunk being counted is still in cache, and glibc's malloc thresholds (which Dask's
nanny lowers on its workers) do not matter. MINC and every other format go through
nibabel and are then cut into the same chunks.

Chunks are 1-D views of the voxels in file order (Fortran order of the logical
array: the first axis varies fastest), carrying the *stored* values; the scaling
(``scl_slope``/``scl_inter`` or MINC's image-min/max) is described by
:class:`VolumeInfo` and applied, or undone, by the caller.

Hostile files are refused before anything is allocated: only regular files are
opened (a FIFO or device named ``x.nii.gz`` would block or never end), a header must
describe a 3-D grid of at most :data:`MAX_VOXELS` voxels with finite, positive voxel
sizes and a real-valued data type, and the voxel data are only read once the caller
has seen the header (and checked it against its reference grid).
"""

from __future__ import annotations

import math
import os
import stat
from collections.abc import Generator, Iterator
from contextlib import closing
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np
from isal import isal_zlib

from alsstats.errors import ImageReadError

__all__ = ["MAX_VOXELS", "Chunks", "VolumeInfo", "label_problem", "open_volume", "read_volume"]

Chunks = Generator[np.ndarray, None, None]
"""The voxels of one image in file order, as 1-D arrays; ``close()`` closes the file."""

CHUNK_BYTES = 1 << 18
"""Inflated bytes per chunk: small enough to stay in L2 cache, large enough that
the per-chunk Python overhead is negligible (128 KiB - 512 KiB measured alike)."""

MAX_VOXELS = 1 << 28
"""The most voxels a header may claim (268,435,456: a 0.33 mm isotropic MNI grid).
A larger claim is refused before anything is read or allocated, so a corrupt header
or a small gzip bomb cannot take gigabytes of memory."""

MAX_TRAILING_BYTES = 1 << 20
"""Data beyond the voxels a header declares that are still read (and ignored, as
nibabel does); more means the header's dimensions or data type are wrong."""

_INPUT_PIECE = 1 << 16
_GZIP_MAGIC = b"\x1f\x8b"
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
_NETCDF_MAGIC = b"CDF"
_NIFTI_SIZES = {348: 1, 540: 2}
_SPACE_UNIT_MM = {1: 1000.0, 2: 1.0, 3: 1e-3}  # xyzt_units & 7: meter, mm, micron; else mm
_NIFTI_DTYPES = {
    2: "u1", 4: "i2", 8: "i4", 16: "f4", 64: "f8",
    256: "i1", 512: "u2", 768: "u4", 1024: "i8", 1280: "u8",
}
_NIFTI_UNSUPPORTED = {
    1: "binary (1 bit)", 32: "complex64", 128: "RGB24", 1536: "float128",
    1792: "complex128", 2048: "complex256", 2304: "RGBA32",
}
_FILE_KINDS = {
    stat.S_IFDIR: "a directory", stat.S_IFIFO: "a FIFO (named pipe)",
    stat.S_IFCHR: "a character device", stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
}


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
        return math.prod(self.shape)

    @property
    def scaled(self) -> bool:
        return self.slope != 1.0 or self.inter != 0.0


def _fail(path: str, why: str) -> ImageReadError:
    return ImageReadError(f"{path}: {why}")


def label_problem(values: np.ndarray) -> str | None:
    """Why ``values`` cannot be labels of a label map, or None when they can.

    The one rule for every label map (lesion masks, atlases, reference tissue maps):
    its real values are whole numbers. NaN, infinities and fractions such as 8.9999
    (a segmentation resampled with a smooth interpolator) are refused, never rounded.
    """
    if values.dtype.kind in "iub":
        return None
    if np.array_equal(values, np.rint(values)) and np.isfinite(values).all():
        return None
    bad = ~(np.isfinite(values) & (values == np.rint(values)))
    example = values[bad][0]
    return (f"{int(np.count_nonzero(bad))} voxel(s) hold values that are not whole numbers "
            f"(e.g. {float(example)!r}); a label map must hold integer labels (resample "
            "segmentations with nearest-neighbour interpolation)")


def _check_grid(path: str, shape: tuple[int, ...]) -> tuple[int, ...]:
    """The 3-D grid of a header's dimensions, refused when impossible or too large."""
    shape = tuple(int(s) for s in shape)
    bad = [(axis, size) for axis, size in enumerate(shape, 1) if size < 1]
    if bad:
        axis, size = bad[0]
        raise _fail(path, f"corrupt header: dimension {axis} has size {size} (shape {shape})")
    claimed = math.prod(shape)  # Python integers: no int64 overflow
    if claimed > MAX_VOXELS:
        raise _fail(path, f"the header claims {claimed:,} voxels (shape {shape}), more than the "
                          f"{MAX_VOXELS:,} alsstats reads (MAX_VOXELS); a corrupt header?")
    while len(shape) > 3 and shape[-1] == 1:
        shape = shape[:-1]
    if len(shape) != 3:
        raise _fail(path, f"expected a 3-D image, the header gives shape {shape}")
    return shape


def _check_zooms(path: str, zooms: tuple[float, ...]) -> None:
    for axis, size in enumerate(zooms, 1):
        if not (math.isfinite(size) and size > 0):
            raise _fail(path, f"corrupt header: voxel size {size!r} mm along axis {axis} "
                              "(voxel sizes must be finite and positive)")


def _check_real_dtype(path: str, dtype: np.dtype) -> None:
    if dtype.kind not in "uif":
        raise _fail(path, f"data type {dtype} is not supported: label maps and intensity "
                          "images must hold real numbers (integers or floats)")


def _open_regular(path: str) -> BinaryIO:
    """Open ``path`` for reading if it is a regular file; never block on a FIFO or device."""
    try:
        mode = os.stat(path).st_mode
        if not stat.S_ISREG(mode):
            raise _fail(path, _not_regular(mode))
        flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
        descriptor = os.open(path, flags)
    except FileNotFoundError:
        raise _fail(path, "file not found") from None
    except ImageReadError:
        raise
    except OSError as exc:
        raise _fail(path, f"cannot be read ({exc.strerror or exc})") from None
    mode = os.fstat(descriptor).st_mode
    if not stat.S_ISREG(mode):  # replaced between stat and open
        os.close(descriptor)
        raise _fail(path, _not_regular(mode))
    return open(descriptor, "rb")


_PAIRED_SUFFIXES = ((".hdr", ".img"), (".img", ".hdr"), (".hdr.gz", ".img.gz"),
                    (".img.gz", ".hdr.gz"))


def _check_paired_file(path: str) -> None:
    """An Analyze/NIfTI pair (``.hdr`` + ``.img``): nibabel opens the other file too, so it
    must be a regular file as well (a FIFO would block, a device never end)."""
    lower = path.lower()
    for own, other in _PAIRED_SUFFIXES:
        if lower.endswith(own):
            sibling = path[: len(path) - len(own)] + (
                other.upper() if path[len(path) - len(own):].isupper() else other)
            try:
                mode = os.stat(sibling).st_mode
            except OSError:
                return  # missing: nibabel's own error names it
            if not stat.S_ISREG(mode):
                raise _fail(path, f"its paired file {os.path.basename(sibling)} "
                                  f"{_not_regular(mode)}")
            return


def _not_regular(mode: int) -> str:
    kind = _FILE_KINDS.get(stat.S_IFMT(mode), "not a regular file")
    if stat.S_ISDIR(mode):
        return "is a directory, not an image"
    return f"is {kind}, not a regular file; only regular image files are read"


def _read(path: str, stream: BinaryIO, size: int) -> bytes:
    try:
        return stream.read(size)
    except OSError as exc:
        raise _fail(path, f"cannot be read ({exc.strerror or exc})") from None


def _inflate(path: str, stream: BinaryIO) -> Iterator[bytes]:
    # Input goes in 64 KiB pieces read from the file, so that neither the compressed
    # file nor unconsumed_tail (a copy) is ever large; output is capped per call so
    # every chunk is a small, cache-resident buffer.
    inflater = isal_zlib.decompressobj(wbits=31)
    pending: bytes = b""
    try:
        while True:
            if not pending:
                pending = _read(path, stream, _INPUT_PIECE)
                if not pending:
                    raise _fail(path, "truncated gzip stream (the file ends before the data do)")
            out = inflater.decompress(pending, CHUNK_BYTES)
            pending = inflater.unconsumed_tail
            if out:
                yield out
            if inflater.eof:
                rest = inflater.unused_data
                if len(rest) < len(_GZIP_MAGIC):
                    rest += _read(path, stream, len(_GZIP_MAGIC) - len(rest))
                if not rest.startswith(_GZIP_MAGIC):
                    return  # trailing bytes after the last member are ignored, as gzip does
                pending = rest
                inflater = isal_zlib.decompressobj(wbits=31)
    except isal_zlib.error as exc:
        raise _fail(path, f"corrupt gzip stream ({exc})") from None


def _parse_nifti_header(path: str, head: bytes) -> tuple[VolumeInfo, int]:
    """Check a NIfTI-1/2 header's fields and describe the image; returns (info, vox_offset)."""
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
    version = _NIFTI_SIZES[size]
    order = "<" if little == size else ">"
    layout = (nib.nifti1 if version == 1 else nib.nifti2).header_dtype.newbyteorder(order)
    fields = np.frombuffer(head[:size], dtype=layout)[0]
    magic = bytes(head[344:348] if version == 1 else head[4:8])
    if magic[:3] != f"n+{version}".encode() or magic[3:4] != b"\x00":
        raise _fail(path, f"not a single-file NIfTI (magic {magic!r}, expected n+{version})")
    code = int(fields["datatype"])
    if code in _NIFTI_UNSUPPORTED:
        raise _fail(path, f"data type {_NIFTI_UNSUPPORTED[code]} (NIfTI code {code}) is not "
                          "supported: label maps and intensity images must hold real numbers")
    if code not in _NIFTI_DTYPES:
        raise _fail(path, f"corrupt NIfTI header: unknown data type code {code}")
    dtype = np.dtype(_NIFTI_DTYPES[code]).newbyteorder(order)
    dim = [int(d) for d in fields["dim"]]
    if not 1 <= dim[0] <= 7:
        raise _fail(path, f"corrupt NIfTI header: dim[0] = {dim[0]} (the number of "
                          "dimensions must be 1 to 7)")
    shape = _check_grid(path, tuple(dim[1 : dim[0] + 1]))
    pixdim = [float(z) for z in fields["pixdim"][1:4]]
    _check_zooms(path, tuple(pixdim))
    offset_field = float(fields["vox_offset"])
    if not (math.isfinite(offset_field) and offset_field == int(offset_field)
            and offset_field >= size + 4):
        raise _fail(path, f"corrupt NIfTI header: vox_offset {offset_field!r} (must be a "
                          f"whole number >= {size + 4})")
    offset = int(offset_field)
    slope, inter = float(fields["scl_slope"]), float(fields["scl_inter"])
    if slope == 0 or not math.isfinite(slope):  # the NIfTI rule: no scaling
        slope, inter = 1.0, 0.0
    elif not math.isfinite(inter):
        raise _fail(path, f"corrupt NIfTI header: scl_slope {slope!r} with scl_inter {inter!r}")
    try:
        header = (nib.Nifti1Header if version == 1 else nib.Nifti2Header)(
            binaryblock=head[:size], check=True)
        affine = np.asarray(header.get_best_affine(), dtype=np.float64)
    except (nib.spatialimages.HeaderDataError, nib.spatialimages.HeaderTypeError,
            ValueError) as exc:  # what nibabel raises for transforms it cannot build
        raise _fail(path, f"corrupt NIfTI header ({exc})") from None
    if not np.isfinite(affine).all():
        raise _fail(path, "corrupt NIfTI header: the voxel-to-world transform (sform/qform) "
                          "holds non-finite values")
    unit = int(fields["xyzt_units"]) & 0x07
    if unit not in _SPACE_UNIT_MM and unit != 0:
        raise _fail(path, f"corrupt NIfTI header: spatial unit code {unit} in xyzt_units "
                          "(0 unknown, 1 meter, 2 mm, 3 micron)")
    scale = _SPACE_UNIT_MM.get(unit, 1.0)  # unknown: mm, as nibabel and FSL assume
    info = VolumeInfo(
        path=path,
        shape=shape,
        affine=affine,
        zooms=tuple(z * scale for z in pixdim),
        dtype=dtype,
        slope=slope,
        inter=inter,
        format=f"nifti{version}",
    )
    return info, offset


def _nifti_stream(path: str) -> tuple[VolumeInfo, Chunks]:
    stream = _open_regular(path)
    try:
        magic = _read(path, stream, len(_GZIP_MAGIC))
        stream.seek(0)
        if magic == _GZIP_MAGIC:
            return _gzip_nifti(path, stream)
        return _plain_nifti(path, stream)
    except BaseException:
        stream.close()
        raise


def _plain_nifti(path: str, stream: BinaryIO) -> tuple[VolumeInfo, Chunks]:
    with stream:  # closed now: the data may never be read (e.g. the grid does not fit)
        info, offset = _parse_nifti_header(path, _read(path, stream, 540))
        status = os.fstat(stream.fileno())
    if status.st_size < offset:
        raise _fail(path, f"truncated: the file ends before the voxel data (offset {offset})")
    declared = info.n_voxels * info.dtype.itemsize
    if status.st_size - offset - declared > MAX_TRAILING_BYTES:
        raise _trailing(info)

    def pieces() -> Iterator[bytes]:
        with _open_regular(path) as data:
            again = os.fstat(data.fileno())
            if (again.st_dev, again.st_ino) != (status.st_dev, status.st_ino):
                raise _fail(path, "was replaced by another file while being read")
            data.seek(offset)  # past any extensions, however long, without reading them
            left = declared
            while left > 0 and (piece := _read(path, data, min(CHUNK_BYTES, left))):
                left -= len(piece)
                yield piece

    return info, _voxel_chunks(info, b"", pieces(), drain=False)


def _gzip_nifti(path: str, stream: BinaryIO) -> tuple[VolumeInfo, Chunks]:
    pieces = _closing(stream, _inflate(path, stream))
    head = b""
    for piece in pieces:
        head += piece
        if len(head) >= 540:
            break
    info, offset = _parse_nifti_header(path, head)
    seen = len(head)
    while seen < offset:  # skip extensions piece by piece, never joining them
        piece = next(pieces, None)
        if piece is None:
            raise _fail(path, f"truncated: the file ends before the voxel data (offset {offset})")
        head = piece
        seen += len(piece)
    first = head[len(head) - (seen - offset):] if seen > offset else b""
    return info, _voxel_chunks(info, first, pieces, drain=True)


def _closing(stream: BinaryIO, pieces: Iterator[bytes]) -> Iterator[bytes]:
    with stream:
        yield from pieces


def _trailing(info: VolumeInfo) -> ImageReadError:
    return _fail(info.path, f"holds more than {MAX_TRAILING_BYTES:,} bytes beyond the "
                            f"{info.n_voxels:,} voxels of {info.dtype.name} its header declares "
                            f"(shape {info.shape}): corrupt header dimensions or data type?")


def _voxel_chunks(info: VolumeInfo, first: bytes, pieces: Iterator[bytes], drain: bool
                  ) -> Chunks:
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
            if drain:  # the gzip CRC and length are checked at the end
                extra = len(piece) - n * size
                for rest in pieces:
                    extra += len(rest)
                    if extra > MAX_TRAILING_BYTES:
                        raise _trailing(info)
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


def _nibabel_volume(path: str, labels: bool = True) -> tuple[VolumeInfo, Chunks]:
    """Any format nibabel reads: the header now, the stored values when iterated.

    With ``labels``, integer MINC images (whose real values nibabel rescales slice by slice)
    are rounded to whole numbers, as a label map's must be; intensity images keep their
    real values.
    """
    import nibabel as nib
    from nibabel.arrayproxy import ArrayProxy

    with _open_regular(path) as stream:
        magic = _read(path, stream, 8)
    _check_paired_file(path)
    if magic.startswith(_HDF5_MAGIC):
        try:
            import h5py  # noqa: F401
        except ImportError:
            raise _fail(
                path,
                "is a MINC2 (HDF5) file; reading MINC2 needs h5py (pip install h5py), "
                "or convert it with mincconvert to MINC1",
            ) from None
    try:  # only nibabel inside: it raises a zoo of classes for a hostile file
        image = nib.load(path)
        dataobj = image.dataobj
        stored_dtype = np.dtype(image.get_data_dtype())
        header_shape = tuple(image.shape)
        affine = np.asarray(image.affine, dtype=np.float64)
        header_zooms = tuple(float(z) for z in image.header.get_zooms()[:3])
        proxy = isinstance(dataobj, ArrayProxy)
        slope = float(dataobj.slope) if proxy else 1.0
        inter = float(dataobj.inter) if proxy else 0.0
    except MemoryError:
        raise _fail(path, "not enough memory to read its header") from None
    except Exception as exc:
        raise _fail(path, f"cannot be read by nibabel ({type(exc).__name__}: {exc})") from None
    fmt = type(image).__name__
    if magic.startswith(_NETCDF_MAGIC):
        fmt = "minc1"
    elif magic.startswith(_HDF5_MAGIC):
        fmt = "minc2"
    shape = _check_grid(path, header_shape)
    _check_real_dtype(path, stored_dtype)
    rounded = labels and fmt.startswith("minc") and stored_dtype.kind in "ui"
    if proxy:
        dtype = stored_dtype
    elif rounded:
        dtype = np.dtype(np.int64)
    elif fmt.startswith("minc") and stored_dtype.kind == "f":
        dtype = stored_dtype
    else:
        dtype = np.dtype(np.float64)
    if fmt.startswith("minc"):
        # nibabel's MINC header keeps the steps in float32; the affine has them in full
        zooms = tuple(float(z) for z in np.sqrt((affine[:3, :3] ** 2).sum(axis=0)))
    else:
        zooms = header_zooms
    _check_zooms(path, zooms)
    if not np.isfinite(affine).all():
        raise _fail(path, "corrupt header: the voxel-to-world transform holds non-finite values")
    info = VolumeInfo(path=path, shape=shape, affine=affine, zooms=zooms, dtype=dtype,
                      slope=slope, inter=inter, format=fmt)

    def chunks() -> Chunks:
        try:
            data = dataobj.get_unscaled() if proxy else np.asanyarray(dataobj)
        except MemoryError:
            raise _fail(path, f"not enough memory to read its {info.n_voxels:,} voxels") from None
        except Exception as exc:
            raise _fail(path, f"cannot be read by nibabel ({type(exc).__name__}: {exc})") from None
        data = np.asarray(data)
        if data.size != info.n_voxels:
            raise _fail(path, f"holds {data.size} voxels where its header declares {shape}")
        if rounded:
            # MINC stores integers rescaled slice by slice through image-min/max;
            # nibabel returns the real values, which for a label map are integers
            # up to the rounding of that rescaling.
            if not np.isfinite(data).all():
                raise _fail(path, "corrupt MINC scaling: image-min/image-max give non-finite values")
            data = np.rint(data)
        flat = data.reshape(shape).ravel(order="F").astype(dtype, copy=False)
        step = max(1, CHUNK_BYTES // max(1, flat.itemsize))
        for i in range(0, flat.size, step):
            yield flat[i : i + step]

    return info, chunks()


def _is_nifti_name(path: str) -> bool:
    name = path.lower()
    return name.endswith((".nii", ".nii.gz"))


def open_volume(path: str | os.PathLike[str], labels: bool = True
                ) -> tuple[VolumeInfo, Chunks]:
    """Header information and an iterator over the stored voxel values.

    ``labels`` says the image is a label map (see :func:`_nibabel_volume`); pass False for
    intensity images.

    Only the header is read here: check ``info`` (e.g. against a reference grid) before
    iterating. The iterator yields 1-D arrays in file (Fortran) order whose lengths add
    up to ``info.n_voxels``; errors in the data (truncation, a bad gzip CRC) are raised
    as :class:`~alsstats.errors.ImageReadError` while iterating.
    """
    path = os.fspath(path)
    if _is_nifti_name(path):
        return _nifti_stream(path)
    return _nibabel_volume(path, labels=labels)


def read_volume(path: str | os.PathLike[str], labels: bool = True
                ) -> tuple[VolumeInfo, np.ndarray]:
    """The whole image as a 3-D array of stored values (apply ``info.slope``/``inter``);
    ``labels=False`` for intensity images (no rounding of rescaled MINC integers)."""
    info, chunks = open_volume(path, labels=labels)
    with closing(chunks):
        return info, collect(info, chunks)


def collect(info: VolumeInfo, chunks: Iterator[np.ndarray]) -> np.ndarray:
    """The chunks of :func:`open_volume` as one 3-D array (native byte order)."""
    try:
        out = np.empty(info.n_voxels, dtype=info.dtype.newbyteorder("="))
    except MemoryError:
        raise _fail(info.path, f"not enough memory to hold its {info.n_voxels:,} voxels "
                               f"of {info.dtype.name}") from None
    at = 0
    for chunk in chunks:
        out[at : at + chunk.size] = chunk
        at += chunk.size
    return out.reshape(info.shape, order="F")
