"""WMH volume from MNI-sized .nii.gz masks: alsstats vs the naive nibabel loop, in one run.

    python benchmarks/volumes.py [--n 100] [--repeats 3]

Writes ``--n`` masks of 193 x 229 x 193 uint8 (a few thousand label-9 voxels in a
white-matter-like blob; nibabel's default gzip level) to a temporary folder, then
times, per mask (median over repeats, files in the page cache):

- naive: ``nib.load(p).get_fdata() == 9``, summed (what most scripts do);
- dataobj: ``np.asanyarray(nib.load(p).dataobj)``, then ``np.count_nonzero(... == 9)``;
- alsstats, 1 core and 2 jobs: ``lesion_volumes(paths, n_jobs=...)``;
- the one-core limit: inflating with ISA-L (fastest of one-shot and 256 KiB pieces,
  output discarded) plus comparing and counting an array already in memory.

and prints the ratios. Nothing in the environment (malloc thresholds) is changed.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import nibabel as nib
import numpy as np
from isal import isal_zlib

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from alsstats.imaging import lesion_volumes  # noqa: E402
from alsstats.imaging._fastnifti import CHUNK_BYTES  # noqa: E402

SHAPE = (193, 229, 193)
AFFINE = np.array([[1.0, 0, 0, -96], [0, 1, 0, -132], [0, 0, 1, -78], [0, 0, 0, 1]])


def make_masks(folder: Path, n: int, seed: int = 0) -> tuple[list[Path], list[int]]:
    rng = np.random.default_rng(seed)
    paths, counts = [], []
    for i in range(n):
        mask = np.zeros(SHAPE, dtype=np.uint8)
        centre = rng.integers([70, 90, 60], [120, 140, 110])
        radii = rng.uniform(8, 14, 3)
        box = tuple(slice(int(c - r), int(c + r) + 1) for c, r in zip(centre, radii, strict=True))
        grid = np.ogrid[box]
        inside = sum(((g - c) / r) ** 2 for g, c, r in zip(grid, centre, radii, strict=True)) <= 1
        mask[box][inside & (rng.random(inside.shape) < 0.5)] = 9
        path = folder / f"wmh_{i:04d}.nii.gz"
        nib.save(nib.Nifti1Image(mask, AFFINE), path)
        paths.append(path)
        counts.append(int(np.count_nonzero(mask == 9)))
    return paths, counts


def per_mask_ms(run, paths, repeats: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = run(paths)
        times.append((time.perf_counter() - start) / len(paths) * 1e3)
    return statistics.median(times), result


def naive(paths):
    return [int((nib.load(p).get_fdata() == 9).sum()) for p in paths]


def dataobj(paths):
    return [int(np.count_nonzero(np.asanyarray(nib.load(p).dataobj) == 9)) for p in paths]


def ours(n_jobs):
    def run(paths):
        table = lesion_volumes(paths, n_jobs=n_jobs, progress=False)
        return table["n_voxels"].tolist()

    return run


def inflate_one_shot(paths):
    for p in paths:
        raw = Path(p).read_bytes()
        isal_zlib.decompress(raw, wbits=31, bufsize=int.from_bytes(raw[-4:], "little"))


def inflate_pieces(paths):
    for p in paths:
        inflater = isal_zlib.decompressobj(wbits=31)
        data = Path(p).read_bytes()
        while data:
            inflater.decompress(data, CHUNK_BYTES)
            data = inflater.unconsumed_tail


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100, help="masks (default 100)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="alsstats-bench-") as tmp:
        t0 = time.perf_counter()
        paths, truth = make_masks(Path(tmp), args.n)
        size = np.mean([os.path.getsize(p) for p in paths]) / 1024
        print(f"{args.n} masks {SHAPE} uint8 .nii.gz, {size:.0f} KiB each, "
              f"{np.mean(truth):.0f} label-9 voxels on average (written in "
              f"{time.perf_counter() - t0:.1f} s); {os.cpu_count()} cores; indexed_gzip "
              f"{'INSTALLED (nibabel uses it)' if importlib.util.find_spec('indexed_gzip') else 'absent'}")
        naive(paths[:2])  # warm the page cache and imports
        ours(2)(paths[:8])  # start the worker pool

        rows = {}
        for name, run in [("naive get_fdata", naive), ("nibabel dataobj", dataobj),
                          ("alsstats, 1 core", ours(1)), ("alsstats, 2 jobs", ours(2))]:
            rows[name], counts = per_mask_ms(run, paths, args.repeats)
            assert counts == truth, f"{name} miscounted"

        one_shot, _ = per_mask_ms(inflate_one_shot, paths, args.repeats)
        pieces, _ = per_mask_ms(inflate_pieces, paths, args.repeats)
        arrays = [np.asanyarray(nib.load(p).dataobj) for p in paths[:20]]
        count, _ = per_mask_ms(lambda arrs: [np.count_nonzero(a == 9) for a in arrs], arrays,
                               args.repeats)
        limit = min(one_shot, pieces) + count

        base = rows["naive get_fdata"]
        print(f"\n{'method':<22}{'ms/mask':>9}{'masks/s':>9}{'vs naive':>10}")
        for name, ms in rows.items():
            print(f"{name:<22}{ms:>9.2f}{1e3 / ms:>9.0f}{base / ms:>9.1f}x")
        print(f"\none-core limit: inflate {min(one_shot, pieces):.2f} ms (one shot "
              f"{one_shot:.2f}, {CHUNK_BYTES >> 10} KiB pieces {pieces:.2f}) + compare-and-count "
              f"{count:.2f} ms = {limit:.2f} ms")
        print(f"alsstats 1 core reaches {limit / rows['alsstats, 1 core']:.0%} of that limit; "
              f"{base / rows['alsstats, 1 core']:.1f}x the naive loop on one core (target >= 5x), "
              f"{base / rows['alsstats, 2 jobs']:.1f}x on two jobs (aim >= 15x)")
    from joblib.externals.loky import get_reusable_executor

    get_reusable_executor().shutdown(wait=True)


if __name__ == "__main__":
    main()
