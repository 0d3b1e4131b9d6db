"""Hostile and careless inputs to the imaging readers and the ``volumes`` command (issue 9).

Every input is built for real: headers written by nibabel and then patched, gzip bombs,
FIFOs, devices, unreadable files and folders. Calls that could block or take the
machine's memory if a bug came back run in a subprocess with a timeout and an address
space cap (``RLIMIT_AS``).
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import sys

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
from hostile_helpers import (
    gzip_bomb,
    patch_header,
    require_denied,
    run_python,
    without_file_permission_override,
)
from imaging_helpers import random_labels, save_minc1, save_nifti

from alsstats.cli import main
from alsstats.errors import DataValidationError, ImageReadError
from alsstats.imaging import from_manifest, join_volumes, lesion_volumes, roi_intensity

SHAPE = (11, 13, 7)
COUNTS = {9: 41, 8: 100}

needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")
needs_rlimit = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                  reason="the address-space cap (RLIMIT_AS, /proc) is Linux's")


@pytest.fixture(scope="module")
def labels():
    return random_labels(SHAPE, COUNTS, seed=1)


@pytest.fixture
def good(tmp_path, labels):
    return [save_nifti(tmp_path / "good1.nii.gz", labels, dtype=np.uint8),
            save_nifti(tmp_path / "good2.nii", labels, dtype=np.int16)]


def one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in text, text
    return lines[0]


# --- item 2: no command writes over one of its inputs ---------------------------------


def test_volumes_never_writes_over_an_input(tmp_path, good, labels, capsys):
    image = good[0]
    before = image.read_bytes()
    atlas = save_nifti(tmp_path / "atlas.nii", np.ones(SHAPE, np.uint8))
    lookup = tmp_path / "lut.csv"
    lookup.write_text("id,name\n1,brain\n")
    hard = tmp_path / "hard.nii.gz"
    os.link(image, hard)
    soft = tmp_path / "soft.csv"
    soft.symlink_to(image)
    cases = [
        ([str(image)], image),                                  # --out a.nii.gz a.nii.gz
        ([str(image), "--atlas", str(atlas)], atlas),           # the atlas
        ([str(image), "--atlas", str(atlas), "--lookup", str(lookup)], lookup),
        ([str(image)], hard),                                   # a hard link to an input
        ([str(image)], soft),                                   # a symlink to an input
        ([str(tmp_path / "sub" / ".." / "good1.nii.gz")], image),   # another spelling
    ]
    for args, out in cases:
        saved = out.read_bytes()
        code = main(["volumes", *args, "--out", str(out), "--no-progress"])
        assert code == 1
        message = one_line(capsys.readouterr().err)
        assert "is one of the inputs" in message and str(out) in message
        assert out.read_bytes() == saved
    assert image.read_bytes() == before and soft.is_symlink()
    assert nib.load(image).get_fdata().sum() == (labels * 1.0).sum()


@needs_fifo
def test_volumes_out_must_be_a_file_name(tmp_path, good, capsys):
    folder = tmp_path / "results"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    for out in [str(folder), str(tmp_path / "new") + "/"]:
        assert main(["volumes", str(good[0]), "--out", out, "--no-progress"]) == 1
        message = one_line(capsys.readouterr().err)
        assert "is a folder" in message and out in message
    assert sorted(p.name for p in folder.iterdir()) == ["notes.txt"]
    assert not (tmp_path / "new").exists()
    fifo = tmp_path / "out.fifo"
    os.mkfifo(fifo)
    assert main(["volumes", str(good[0]), "--out", str(fifo), "--no-progress"]) == 1
    assert "not a regular file" in one_line(capsys.readouterr().err)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


# --- item 3: with errors="coerce" any failure of one file is that file's row -----------


@pytest.fixture
def broken(tmp_path, labels):
    (tmp_path / "folder.mnc").mkdir()
    (tmp_path / "folder.nii.gz").mkdir()
    rgb = np.zeros(SHAPE, dtype=[("R", "u1"), ("G", "u1"), ("B", "u1")])
    rgb["R"] = labels
    complex_map = labels.astype(np.complex64)
    return {
        "folder.mnc": tmp_path / "folder.mnc",
        "folder.nii.gz": tmp_path / "folder.nii.gz",
        "rgb24": save_nifti(tmp_path / "rgb.nii", rgb),
        "complex64": save_nifti(tmp_path / "complex.nii.gz", complex_map),
        "float_minc": save_minc1(tmp_path / "float.mnc", labels, typecode="f"),
    }


@pytest.mark.parametrize("name, why", [
    ("folder.mnc", "is a directory"),
    ("folder.nii.gz", "is a directory"),
    ("rgb24", "RGB24 .*not supported"),
    ("complex64", "complex64 .*not supported"),
])
def test_every_bad_file_is_an_error_naming_it(broken, good, name, why):
    with pytest.raises(ImageReadError, match=why) as caught:
        lesion_volumes([good[0], broken[name]], progress=False)
    assert str(broken[name]) in str(caught.value)


def test_coerce_keeps_every_good_row_exact_and_in_order(broken, good, tmp_path, capsys):
    paths = [good[0], broken["folder.mnc"], broken["rgb24"], good[1], broken["complex64"],
             broken["folder.nii.gz"], broken["float_minc"]]
    table = lesion_volumes(paths, label=[9, 8], errors="coerce", progress=False)
    assert table["path"].tolist() == [str(p) for p in paths]
    assert table["error"].isna().tolist() == [True, False, False, True, False, False, True]
    assert table["n_voxels_9"].dropna().tolist() == [41, 41, 41]
    assert table["n_voxels_8"].dropna().tolist() == [100, 100, 100]
    for path, why in zip(table["path"], table["error"], strict=True):
        assert why is None or path in why
    # the command line writes its table too
    out = tmp_path / "volumes.csv"
    assert main(["volumes", *map(str, paths), "--errors", "coerce", "--out", str(out),
                 "--no-progress"]) == 0
    written = pd.read_csv(out)
    assert written["n_voxels"].dropna().tolist() == [41, 41, 41]
    assert written["error"].notna().sum() == 4


@pytest.mark.slow
@needs_rlimit
def test_memory_pressure_costs_one_row_not_the_batch(tmp_path, labels):
    """Under a 48 MiB memory allowance: an 80 MB .nii.gz is streamed (it used to be read
    whole: MemoryError, batch lost) and a MINC file nibabel cannot fit in memory is that
    file's row."""
    rng = np.random.default_rng(5)
    noise = rng.integers(0, 256, size=(400, 400, 500), dtype=np.uint8)
    big = tmp_path / "big.nii.gz"
    nib.Nifti1Image(noise, np.eye(4)).to_filename(tmp_path / "big.nii")
    import isal.isal_zlib as isal_zlib

    raw = (tmp_path / "big.nii").read_bytes()
    compressor = isal_zlib.compressobj(0, isal_zlib.DEFLATED, 31)
    big.write_bytes(compressor.compress(raw) + compressor.flush())
    del raw
    (tmp_path / "big.nii").unlink()
    expected = int(np.count_nonzero(noise == 9))
    del noise
    huge_minc = save_minc1(tmp_path / "huge.mnc", np.zeros((300, 300, 300), np.uint8))
    small = save_nifti(tmp_path / "small.nii.gz", labels, dtype=np.uint8)
    paths = [str(small), str(big), str(huge_minc), str(small)]
    done = run_python(f"""
        from alsstats.imaging import lesion_volumes
        import json
        import pandas as pd
        table = lesion_volumes({paths!r}, errors="coerce", progress=False)
        print(json.dumps([[None if pd.isna(n) else int(n), error]
                          for n, error in zip(table["n_voxels"], table["error"])]))
        """, memory_headroom_mb=48, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    rows = json.loads(done.stdout)
    assert [n for n, _ in rows] == [41, expected, None, 41]
    assert rows[1][1] is None
    assert "huge.mnc" in rows[2][1] and "memory" in rows[2][1]


# --- item 12: corrupt headers and non-integer labels are errors ------------------------


@pytest.mark.parametrize("version", [1, 2])
@pytest.mark.parametrize("field, values, index, why", [
    ("dim", [0], 0, r"dim\[0\] = 0"),
    ("dim", [8], 0, r"dim\[0\] = 8"),
    ("dim", [0], 2, "dimension 2 has size 0"),
    ("dim", [-5], 3, "dimension 3 has size -5"),
    ("pixdim", [np.nan], 1, "voxel size nan"),
    ("pixdim", [-1.0], 2, "voxel size -1.0"),
    ("pixdim", [0.0], 3, "voxel size 0.0"),
    ("pixdim", [np.inf], 1, "voxel size inf"),
    ("vox_offset", [np.nan], 0, "vox_offset"),
    ("xyzt_units", [5], 0, "spatial unit code 5"),
])
def test_corrupt_header_is_an_error(tmp_path, labels, version, field, values, index, why):
    if field == "vox_offset" and version == 2:
        values = [-1]  # NIfTI-2 keeps vox_offset as an integer
    image = (nib.Nifti1Image if version == 1 else nib.Nifti2Image)(labels.astype(np.uint8),
                                                                   np.eye(4))
    path = tmp_path / "corrupt.nii"
    nib.save(image, path)
    patch_header(path, version, field, values, index)
    with pytest.raises(ImageReadError, match=why) as caught:
        lesion_volumes(path, progress=False)
    assert str(path) in str(caught.value)
    table = lesion_volumes([path], errors="coerce", progress=False)
    assert table["volume_mm3"].isna().all() and str(path) in table.loc[0, "error"]


def test_nifti2_dims_that_overflow_int64_are_an_error(tmp_path, labels):
    path = tmp_path / "overflow.nii"
    nib.save(nib.Nifti2Image(labels.astype(np.uint8), np.eye(4)), path)
    patch_header(path, 2, "dim", [3, 2**62, 4, 4])  # 2**66 voxels: 0 in int64 arithmetic
    with pytest.raises(ImageReadError, match=r"claims 73,786,976,294,838,206,464 voxels"):
        lesion_volumes(path, progress=False)
    assert lesion_volumes([path], errors="coerce", progress=False)["n_voxels"].isna().all()


@pytest.mark.parametrize("bad", [np.float32(8.9999), np.nan, np.inf])
def test_non_integer_labels_one_rule_for_maps_and_atlases(tmp_path, labels, bad):
    data = labels.astype(np.float32)
    data.flat[np.flatnonzero(labels == 9)[:3]] = bad
    path = save_nifti(tmp_path / "resampled.nii.gz", data)
    with pytest.raises(ImageReadError, match=r"3 voxel\(s\) hold values that are not whole") \
            as as_map:
        lesion_volumes(path, progress=False)
    mask = save_nifti(tmp_path / "mask.nii.gz", labels, dtype=np.uint8)
    with pytest.raises(DataValidationError) as as_atlas:
        lesion_volumes(mask, atlas=path, progress=False)
    rule = str(as_map.value).split(": ", 1)[1]
    assert rule in str(as_atlas.value) and str(path) in str(as_atlas.value)
    coerced = lesion_volumes([mask, path], errors="coerce", progress=False)
    assert coerced["n_voxels"].tolist()[0] == 41 and "whole numbers" in coerced.loc[1, "error"]


def test_scaled_map_whose_real_values_are_not_integers_is_an_error(tmp_path, labels):
    # float32 scl_slope 0.1: stored 90 is 9.0000001341 as every NIfTI reader computes it
    path = save_nifti(tmp_path / "tenths.nii", labels * 10, dtype=np.int16)
    patch_header(path, 1, "scl_slope", [0.1, 0.0])
    real = nib.load(path).get_fdata()
    assert np.count_nonzero(real == 9) == 0 and np.count_nonzero(real == 8) == 0
    with pytest.raises(ImageReadError, match="not whole numbers"):
        lesion_volumes(path, progress=False)


# --- item 13: join_volumes with one file mapped to two visits -------------------------


def test_join_volumes_refuses_one_file_for_two_visits():
    visits = pd.DataFrame({"subject": ["01", "01"], "years": [0.0, 1.0],
                           "session": ["M00", "M12"]})
    volumes = pd.DataFrame({"path": ["a.nii.gz"], "volume_mm3": [1500.0]})
    scans = pd.DataFrame({"subject": ["01", "01"], "session": ["M00", "M12"],
                          "path": ["a.nii.gz", "a.nii.gz"]})
    with pytest.raises(DataValidationError, match=r"a\.nii\.gz to .*M00.*M12"):
        join_volumes(visits, volumes, scans=scans)
    same_twice = scans.assign(session=["M12", "M12"])  # a repeated row is no conflict
    assert join_volumes(visits, volumes, scans=same_twice)["wmh_mm3"].tolist()[1] == 1500.0


# --- item 14: a header cannot make alsstats allocate what it claims --------------------


@pytest.fixture(scope="module")
def bomb(tmp_path_factory):
    """7.8 MB on disk, a 2000 x 2000 x 1950 uint8 image (7.8 GB) inflated."""
    path = gzip_bomb(tmp_path_factory.mktemp("bomb") / "bomb.nii.gz", (2000, 2000, 1950))
    assert os.path.getsize(path) < 10e6
    return path


@pytest.mark.slow
@needs_rlimit
def test_gzip_bomb_takes_no_memory(tmp_path, labels, bomb):
    small = save_nifti(tmp_path / "small.nii.gz", labels, dtype=np.uint8)
    atlas = save_nifti(tmp_path / "atlas.nii.gz", (labels > 0).astype(np.uint8))
    done = run_python(f"""
        import json
        from alsstats.errors import DataValidationError, ImageReadError
        from alsstats.imaging import lesion_volumes, roi_intensity
        out = {{}}
        for name, call in [
            ("atlas", lambda: lesion_volumes({str(small)!r}, atlas={str(bomb)!r}, progress=False)),
            ("mask", lambda: lesion_volumes({str(bomb)!r}, progress=False)),
            ("roi image", lambda: roi_intensity([{str(bomb)!r}], {str(atlas)!r}, None,
                                                progress=False)),
            ("roi reference", lambda: roi_intensity([{str(small)!r}], {str(atlas)!r},
                                                    reference=[{str(bomb)!r}], progress=False)),
            ("roi atlas", lambda: roi_intensity([{str(small)!r}], {str(bomb)!r}, None,
                                                progress=False)),
        ]:
            try:
                call()
                out[name] = "no error"
            except (ImageReadError, DataValidationError) as exc:
                out[name] = str(exc)
        coerced = roi_intensity([{str(small)!r}, {str(bomb)!r}], {str(atlas)!r}, None,
                                errors="coerce", progress=False)
        out["coerce"] = coerced["error"].tolist()
        print(json.dumps(out))
        """, memory_headroom_mb=512, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout)
    for name in ("atlas", "mask", "roi atlas"):
        assert "claims 7,800,000,000 voxels" in out[name] and "bomb.nii.gz" in out[name]
    for name in ("roi image", "roi reference"):
        assert "bomb.nii.gz" in out[name] and ("claims" in out[name] or "grid" in out[name])
    assert out["coerce"][0] is None and "bomb.nii.gz" in out["coerce"][1]


def test_roi_intensity_checks_the_grid_before_reading(tmp_path, labels):
    """An image on another grid is refused from its header: a truncated one says "grid",
    not "truncated" (its data are never read)."""
    atlas = save_nifti(tmp_path / "atlas.nii.gz", (labels > 0).astype(np.uint8))
    other = save_nifti(tmp_path / "other.nii", np.zeros((40, 40, 40), np.float32))
    other.write_bytes(other.read_bytes()[:2000])
    with pytest.raises(DataValidationError, match="different grids"):
        roi_intensity([other], atlas, None, progress=False)


# --- item 15: FIFOs and devices are never opened --------------------------------------


@needs_fifo
def test_fifos_and_devices_are_refused_without_blocking(tmp_path, labels):
    small = save_nifti(tmp_path / "small.nii.gz", labels, dtype=np.uint8)
    atlas = save_nifti(tmp_path / "atlas.nii.gz", (labels > 0).astype(np.uint8))
    fifos = [tmp_path / "pipe.nii.gz", tmp_path / "pipe.nii", tmp_path / "pipe.mnc"]
    for fifo in fifos:
        os.mkfifo(fifo)
    device = tmp_path / "zero.nii.gz"
    device.symlink_to(os.devnull)
    device_mnc = tmp_path / "null.mnc"
    device_mnc.symlink_to(os.devnull)
    lookup_fifo = tmp_path / "lut.txt"
    os.mkfifo(lookup_fifo)
    paths = [str(small), *map(str, fifos), str(device), str(device_mnc), str(small)]
    done = run_python(f"""
        import json
        from alsstats.errors import DataValidationError, ImageReadError
        from alsstats.imaging import lesion_volumes, roi_intensity
        out = {{"coerce": lesion_volumes({paths!r}, errors="coerce",
                                         progress=False)["error"].tolist()}}
        for name, call in [
            ("raise", lambda: lesion_volumes({paths[1]!r}, progress=False)),
            ("atlas", lambda: lesion_volumes({str(small)!r}, atlas={str(fifos[2])!r},
                                             progress=False)),
            ("lookup", lambda: lesion_volumes({str(small)!r}, atlas={str(atlas)!r},
                                              lookup={str(lookup_fifo)!r}, progress=False)),
            ("roi", lambda: roi_intensity([{str(fifos[0])!r}], {str(atlas)!r}, None,
                                          progress=False)),
        ]:
            try:
                call()
                out[name] = "no error"
            except (ImageReadError, DataValidationError) as exc:
                out[name] = str(exc)
        print(json.dumps(out))
        """, timeout=15)
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout)
    errors = out["coerce"]
    assert errors[0] is None and errors[-1] is None
    for path, why in zip(paths[1:4], errors[1:4], strict=True):
        assert why == f"{path}: is a FIFO (named pipe), not a regular file; only regular " \
                      "image files are read"
    assert all("character device" in why for why in errors[4:6])
    assert "pipe.nii.gz: is a FIFO" in out["raise"]
    assert "pipe.mnc: is a FIFO" in out["atlas"]
    assert "lut.txt: not a regular file" in out["lookup"]
    assert "pipe.nii.gz: is a FIFO" in out["roi"]


# --- item 16: a large vox_offset is skipped, not read piece by piece -------------------


def test_large_vox_offset_is_skipped_in_linear_time(tmp_path, labels):
    stored = np.asfortranarray(labels.astype(np.uint8))
    header = nib.Nifti1Header()
    header.set_data_dtype(np.uint8)
    header.set_data_shape(SHAPE)
    paths = []
    for name, offset in [("far.nii", 1 << 30), ("far.nii.gz", 1 << 28)]:
        header["vox_offset"] = offset
        path = tmp_path / name
        if name.endswith(".gz"):
            import zlib

            compressor = zlib.compressobj(1, zlib.DEFLATED, 31)
            with open(path, "wb") as stream:
                stream.write(compressor.compress(header.binaryblock + bytes(4)))
                zeros = bytes(1 << 20)
                for _ in range((offset - 352) >> 20):
                    stream.write(compressor.compress(zeros))
                stream.write(compressor.compress(bytes((offset - 352) % (1 << 20))))
                stream.write(compressor.compress(stored.tobytes(order="F")) + compressor.flush())
        else:  # a sparse file: 1 GiB of extension space that takes no disk
            with open(path, "wb") as stream:
                stream.write(header.binaryblock + bytes(4))
                stream.seek(offset)
                stream.write(stored.tobytes(order="F"))
        assert int((nib.load(path).get_fdata() == 9).sum()) == 41
        paths.append(str(path))
    done = run_python(f"""
        from alsstats.imaging import lesion_volumes
        print(lesion_volumes({paths!r}, progress=False)["n_voxels"].tolist())
        """, timeout=15)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[41, 41]"


# --- item 17: one-line errors naming the column, value or path ------------------------


@pytest.mark.parametrize("label, why", [
    ("nan", "'nan': a label must be a finite number"),
    ("inf", "'inf': a label must be a finite number"),
    ("nine", "'nine' is not a number"),
])
def test_volumes_bad_label_is_one_line(good, tmp_path, capsys, label, why):
    out = tmp_path / "v.csv"
    assert main(["volumes", str(good[0]), "--label", label, "--out", str(out)]) == 1
    assert why in one_line(capsys.readouterr().err)
    assert not out.exists()


def test_manifest_with_non_numeric_years_names_column_row_value(tmp_path):
    manifest = tmp_path / "manifest.csv"
    manifest.write_text("subject,years,path\n01,0,a.nii.gz\n01,one,b.nii.gz\n02,-1,c.nii.gz\n")
    with pytest.raises(DataValidationError) as caught:
        from_manifest(manifest)
    message = str(caught.value)
    assert "'years'" in message and "2 row(s)" in message
    assert "row 2 (subject 01): 'one'" in message and "row 3 (subject 02): '-1'" in message


def _cli(args: list[str], prefix: list[str]):
    return run_python(f"""
        import sys
        from alsstats.cli import main
        sys.exit(main({args!r}))
        """, prefix=prefix, timeout=120)


def test_volumes_permission_errors_are_one_line(tmp_path, labels):
    prefix = without_file_permission_override()
    shared = tmp_path / "shared"
    shared.mkdir()
    image = save_nifti(shared / "seg.nii.gz", labels, dtype=np.uint8)
    locked_folder = shared / "locked"
    locked_folder.mkdir()
    locked_folder.chmod(0o555)
    secret = save_nifti(shared / "secret.nii.gz", labels, dtype=np.uint8)
    secret.chmod(0)
    lookup = shared / "lut.csv"
    lookup.write_text("id,name\n1,brain\n")
    lookup.chmod(0)
    atlas = save_nifti(shared / "atlas.nii.gz", (labels > 0).astype(np.uint8))
    try:
        require_denied(prefix, locked_folder, "w")
        require_denied(prefix, secret, "r")
        out = locked_folder / "volumes.csv"
        done = _cli(["volumes", str(image), "--out", str(out), "--no-progress"], prefix)
        assert done.returncode == 1
        assert f"cannot write {out} (Permission denied)" in one_line(done.stderr)
        done = _cli(["volumes", str(secret), "--out", str(shared / "v.csv"), "--no-progress"],
                    prefix)
        assert done.returncode == 1
        assert f"{secret}: cannot be read (Permission denied)" in one_line(done.stderr)
        done = _cli(["volumes", str(image), "--atlas", str(atlas), "--lookup", str(lookup),
                     "--out", str(shared / "v.csv"), "--no-progress"], prefix)
        assert done.returncode == 1
        assert f"{lookup}: cannot be read (Permission denied)" in one_line(done.stderr)
        done = _cli(["volumes", str(image), str(secret), "--errors", "coerce",
                     "--out", str(shared / "v.csv"), "--no-progress"], prefix)
        assert done.returncode == 0, done.stderr
        table = pd.read_csv(shared / "v.csv")
        assert table["n_voxels"].tolist()[0] == 41 and "Permission denied" in table["error"][1]
    finally:
        locked_folder.chmod(0o755)
        secret.chmod(0o644)
        lookup.chmod(0o644)


def test_hostile_helpers_run_this_alsstats():
    done = run_python("import alsstats; print(alsstats.__file__)")
    import alsstats

    assert done.stdout.strip() == alsstats.__file__, (done.stdout, sys.path[:3])


# --- siblings -------------------------------------------------------------------------


@needs_fifo
def test_manifest_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "manifest.csv"
    os.mkfifo(fifo)
    done = run_python(f"""
        from alsstats.errors import DataValidationError
        from alsstats.imaging import from_manifest
        try:
            from_manifest({str(fifo)!r})
        except DataValidationError as exc:
            print(exc.problems[0])
        """, timeout=15)
    assert done.stdout.strip() == f"manifest {fifo}: not a regular file", done.stderr[-2000:]


def test_data_beyond_what_the_header_declares_is_refused(tmp_path):
    """A header whose last dimension was cut (200 x 200 x 50 stored, dim[3] = 1 claimed)
    would otherwise be measured on its first slice only; a small header followed by a
    gzip bomb would be inflated to the end."""
    data = np.zeros((200, 200, 50), np.uint8)
    data[..., 10:] = 9
    cut = save_nifti(tmp_path / "cut.nii", data)
    patch_header(cut, 1, "dim", [1], index=3)
    bombed = tmp_path / "bombed.nii.gz"
    small = save_nifti(tmp_path / "small.nii", data[:, :, :1])
    import zlib

    member = zlib.compressobj(9, zlib.DEFLATED, 31)
    bombed.write_bytes(gzip_of(small.read_bytes()) + member.compress(bytes(64 << 20))
                       + member.flush())
    for path in (cut, bombed):
        with pytest.raises(ImageReadError, match=r"more than 1,048,576 bytes beyond the "
                                                 r"40,000 voxels of uint8"):
            lesion_volumes(path, progress=False)
    assert lesion_volumes(small, progress=False).loc[0, "n_voxels"] == 0


def gzip_of(raw: bytes) -> bytes:
    import gzip

    return gzip.compress(raw, compresslevel=1)


def test_a_bug_in_alsstats_is_not_turned_into_a_row(tmp_path, labels, monkeypatch):
    """With errors="coerce" a file's failure is its row, but an exception that is not
    about the file (here: a TypeError planted in the header check) must propagate."""
    import alsstats.imaging._fastnifti as reader

    def broken(*args, **kwargs):
        raise TypeError("a bug in alsstats")

    for name in ("_check_grid", "_grid3d"):  # today's name and main's
        monkeypatch.setattr(reader, name, broken, raising=False)
    path = save_nifti(tmp_path / "fine.nii.gz", labels, dtype=np.uint8)
    with pytest.raises(TypeError, match="a bug in alsstats"):
        lesion_volumes([path], errors="coerce", progress=False)


@pytest.mark.parametrize("name, content", [
    ("empty.csv", b""),
    ("binary.csv", bytes(range(256)) * 8),
    ("fake.csv.gz", b"subject,path,years\n01,a.nii,0\n"),
])
def test_unreadable_manifest_is_one_named_error(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(DataValidationError, match=f"manifest {path}: cannot be read as a CSV"):
        from_manifest(path)


def test_volumes_atlas_on_another_grid_is_one_line(tmp_path, good, capsys):
    shifted = np.eye(4)
    shifted[0, 3] = 2.0
    atlas = save_nifti(tmp_path / "atlas.nii.gz", np.ones(SHAPE, np.uint8), affine=shifted)
    out = tmp_path / "v.csv"
    assert main(["volumes", str(good[0]), "--atlas", str(atlas), "--out", str(out),
                 "--no-progress"]) == 1
    message = one_line(capsys.readouterr().err)
    assert str(good[0]) in message and str(atlas) in message and "differ by up to 2 mm" in message
    assert not out.exists()


def test_volumes_never_replaces_an_existing_file_without_overwrite(tmp_path, good, capsys):
    out = tmp_path / "volumes.csv"
    out.write_text("my own table\n")
    assert main(["volumes", str(good[0]), "--out", str(out), "--no-progress"]) == 1
    message = one_line(capsys.readouterr().err)
    assert "already exists" in message and "--overwrite" in message and str(out) in message
    assert out.read_text() == "my own table\n"
    assert main(["volumes", str(good[0]), "--out", str(out), "--no-progress",
                 "--overwrite"]) == 0
    assert pd.read_csv(out)["path"].tolist() == [str(good[0])]
    capsys.readouterr()
    # --overwrite never extends to an input
    assert main(["volumes", str(good[0]), "--out", str(good[0]), "--overwrite",
                 "--no-progress"]) == 1
    assert "one of the inputs" in one_line(capsys.readouterr().err)


@needs_fifo
def test_paired_img_of_an_hdr_must_be_a_regular_file(tmp_path, labels):
    """nibabel opens the .img beside a .hdr: a FIFO there is refused, never opened."""
    good = tmp_path / "good.hdr"
    nib.save(nib.Nifti1Pair(labels.astype(np.uint8), np.eye(4)), good)
    bad = tmp_path / "bad.hdr"
    shutil.copy(good, bad)
    os.mkfifo(tmp_path / "bad.img")
    done = run_python(f"""
        from alsstats.imaging import lesion_volumes
        table = lesion_volumes([{str(good)!r}, {str(bad)!r}], errors="coerce", progress=False)
        print(repr(table["error"].tolist()))
        print(int(table["volume_mm3"].notna().sum()))
    """, timeout=15)
    errors, n_ok = done.stdout.strip().splitlines()[-2:]
    assert "paired file bad.img" in errors and "not a regular file" in errors
    assert n_ok == "1"
