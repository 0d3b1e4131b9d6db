"""Batches through joblib's Dask backend, and the ``alsstats volumes`` command."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from imaging_helpers import random_labels, save_nifti

from alsstats.cli import main
from alsstats.imaging import lesion_volumes

SHAPE = (20, 24, 16)


@pytest.fixture(scope="module")
def masks(tmp_path_factory):
    folder = tmp_path_factory.mktemp("masks")
    return [
        save_nifti(folder / f"m{i}.nii.gz", random_labels(SHAPE, {9: 7 * i + 3, 8: 50}, seed=i),
                   zooms=(0.9, 0.9, 3.0), dtype=np.uint8)
        for i in range(8)
    ]


def test_dask_local_cluster_gives_identical_results(masks, tmp_path):
    distributed = pytest.importorskip("dask.distributed")
    import joblib

    paths = [*masks[:3], tmp_path / "missing.nii.gz", *masks[3:]]
    serial = lesion_volumes(paths, label=[9, 8], errors="coerce", progress=False)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        with distributed.get_task_stream(client) as tasks, joblib.parallel_config(backend="dask"):
            on_dask = lesion_volumes(paths, label=[9, 8], errors="coerce", progress=False,
                                     n_jobs=-1)
        assert len(tasks.data) > 0  # the chunks really ran on the cluster
    pd.testing.assert_frame_equal(serial, on_dask)
    assert on_dask["n_voxels_9"].dropna().tolist() == [7 * i + 3 for i in range(8)]


def test_cli_writes_the_table(masks, tmp_path, capsys):
    out = tmp_path / "out" / "volumes.csv"
    code = main(["volumes", *map(str, masks[:3]), "--label", "9", "--label", "8",
                 "--out", str(out), "--no-progress"])
    assert code == 0
    table = pd.read_csv(out)
    assert table["n_voxels_9"].tolist() == [3, 10, 17]
    assert table["n_voxels_8"].tolist() == [50, 50, 50]
    assert list(out.parent.iterdir()) == [out]  # no temporary left behind


def test_cli_bad_file(masks, tmp_path, capsys):
    out = tmp_path / "volumes.csv"
    missing = tmp_path / "missing.nii.gz"
    assert main(["volumes", str(masks[0]), str(missing), "--out", str(out)]) == 1
    assert str(missing) in capsys.readouterr().err and not out.exists()
    assert main(["volumes", str(masks[0]), str(missing), "--out", str(out),
                 "--errors", "coerce"]) == 0
    table = pd.read_csv(out)
    assert table["n_voxels"].tolist()[0] == 3 and np.isnan(table["n_voxels"][1])
    assert "file not found" in table["error"][1]
