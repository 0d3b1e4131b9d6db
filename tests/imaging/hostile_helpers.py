"""Hostile inputs for the imaging readers, built for real: patched headers, gzip bombs,
FIFOs, unreadable files; and a way to run a risky call in a subprocess that cannot hang
the suite or take the machine's memory.
"""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
import sys
import textwrap
import zlib
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

import alsstats

ROOT = Path(alsstats.__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent

_MEMORY_PRELUDE = """
import resource
import isal, joblib, nibabel, numpy, pandas, tqdm.auto  # noqa: F401 (imported before the cap)
import alsstats.imaging  # noqa: F401


def _address_space():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024


_soft, _hard = resource.getrlimit(resource.RLIMIT_AS)
resource.setrlimit(resource.RLIMIT_AS, (_address_space() + {headroom} * 2**20, _hard))
"""


def run_python(code: str, *, timeout: float = 60, memory_headroom_mb: int | None = None,
               prefix: list[str] | None = None) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter importing this alsstats; fail (never hang) when
    it runs past ``timeout``. With ``memory_headroom_mb`` its address space is capped
    (``RLIMIT_AS``) at what the imports took plus that many MiB."""
    source = textwrap.dedent(code)
    if memory_headroom_mb is not None:
        source = _MEMORY_PRELUDE.format(headroom=memory_headroom_mb) + source
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(HERE)]),
           "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    try:
        return subprocess.run([*(prefix or []), sys.executable, "-c", source],
                              capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        pytest.fail(f"still running after {timeout} s: it blocks or takes time out of all "
                    "proportion (the subprocess was killed)")


def without_file_permission_override() -> list[str]:
    """A command prefix under which file permissions bind (root ignores them).

    Not root: nothing. Root: ``setpriv`` dropping the capabilities that override
    permissions; skips the test when that is not available.
    """
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: file permissions cannot be made to bind")
    caps = "-dac_override,-dac_read_search"
    return [setpriv, f"--inh-caps={caps}", f"--bounding-set={caps}"]


def require_denied(prefix: list[str], path: Path, mode: str) -> None:
    """Skip unless, under ``prefix``, ``path`` really cannot be opened in ``mode`` ("r" or
    "w", for a folder: create a file in it)."""
    if mode == "r":
        probe = f"open({str(path)!r}, 'rb').close()"
    else:
        probe = f"open({str(path / '.probe')!r}, 'xb').close()"
    done = subprocess.run([*prefix, sys.executable, "-c", probe], capture_output=True,
                          timeout=60)
    if done.returncode == 0:
        (path / ".probe").unlink(missing_ok=True)
        pytest.skip(f"this machine does not enforce the permissions of {path} for this user")


def nifti_field_offset(version: int, field: str) -> int:
    layout = nib.nifti1.header_dtype if version == 1 else nib.nifti2.header_dtype
    return layout.fields[field][1]


def patch_header(path: Path, version: int, field: str, values, index: int = 0) -> Path:
    """Overwrite ``field`` (from element ``index`` on) in a saved NIfTI file's header,
    in the file's own layout; ``.nii.gz`` files are inflated, patched and recompressed."""
    layout = nib.nifti1.header_dtype if version == 1 else nib.nifti2.header_dtype
    base = layout.fields[field][0]
    element = base.subdtype[0] if base.subdtype else base
    compressed = path.name.endswith(".gz")
    raw = bytearray(gzip.decompress(path.read_bytes()) if compressed else path.read_bytes())
    start = nifti_field_offset(version, field) + index * element.itemsize
    payload = np.asarray(values, dtype=element.newbyteorder("<")).tobytes()
    raw[start : start + len(payload)] = payload
    path.write_bytes(gzip.compress(bytes(raw), compresslevel=1) if compressed else bytes(raw))
    return path


def gzip_bomb(path: Path, shape: tuple[int, int, int], dtype=np.uint8) -> Path:
    """A real ``.nii.gz`` whose header claims ``shape`` and which holds all those voxels
    (zeros), in gzip members of 64 MiB each: a few MB on disk, gigabytes inflated."""
    header = nib.Nifti1Header()
    header.set_data_dtype(dtype)
    header.set_data_shape(shape)
    header["vox_offset"] = 352
    total = int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
    piece = 64 << 20
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros_member = compressor.compress(bytes(piece)) + compressor.flush()
    with open(path, "wb") as stream:
        stream.write(gzip.compress(header.binaryblock + bytes(4)))
        for _ in range(total // piece):
            stream.write(zeros_member)
        rest = zlib.compressobj(9, zlib.DEFLATED, 31)
        stream.write(rest.compress(bytes(total % piece)) + rest.flush())
    return path
