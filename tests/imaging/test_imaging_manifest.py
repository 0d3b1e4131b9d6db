"""find_scans, from_manifest and join_volumes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from imaging_helpers import random_labels, save_nifti

from alsstats.errors import DataValidationError, DroppedRowsWarning
from alsstats.imaging import find_scans, from_manifest, join_volumes, lesion_volumes


@pytest.fixture
def tree(tmp_path):
    counts = {("01", "M00"): 10, ("01", "M12"): 25, ("02", "M00"): 4, ("03", "M00"): 7}
    for (subject, session), count in counts.items():
        folder = tmp_path / f"sub-{subject}" / f"ses-{session}" / "anat"
        folder.mkdir(parents=True)
        save_nifti(folder / f"sub-{subject}_ses-{session}_wmh.nii.gz",
                   random_labels((8, 9, 10), {9: count}), zooms=(1.0, 1.0, 2.0),
                   dtype=np.uint8)
        (folder / "notes.txt").write_text("not an image")
    return tmp_path, counts


def visits():
    return pd.DataFrame({
        "subject": ["01", "01", "02", "04"],
        "years": [0.0, 1.0, 0.0, 0.0],
        "session": ["M00", "M12", "M00", "M00"],
        "group": ["ALS", "ALS", "control", "ALS"],
    })


def test_find_scans_then_join(tree):
    root, counts = tree
    scans = find_scans(root)
    assert scans[["subject", "session"]].values.tolist() == [list(k) for k in counts]
    volumes = lesion_volumes(scans["path"], progress=False)
    table = visits()
    with pytest.warns(DroppedRowsWarning, match="1 of 4 scans match no visit"):
        joined = join_volumes(table, volumes, scans=scans)
    assert joined["wmh_mm3"].tolist()[:3] == [20.0, 50.0, 8.0]
    assert np.isnan(joined["wmh_mm3"].iloc[3])
    assert "wmh_mm3" not in table  # input untouched
    with pytest.raises(DataValidationError, match="already have values"):
        join_volumes(joined, volumes[volumes.path.str.contains("sub-0[12]")], scans=scans)


def test_manifest_with_sessions_table(tree, tmp_path):
    root, _ = tree
    manifest = tmp_path / "manifest.csv"
    pd.DataFrame({
        "subject": ["01", "01"],
        "session": ["M00", "M12"],
        "path": [f"sub-01/ses-{s}/anat/sub-01_ses-{s}_wmh.nii.gz" for s in ("M00", "M12")],
    }).to_csv(manifest, index=False)
    scans = from_manifest(manifest)
    assert all(pd.Series(scans["path"]).map(lambda p: p.startswith(str(tmp_path))))
    volumes = lesion_volumes(scans["path"], progress=False)
    sessions = pd.DataFrame({"subject": ["01", "01"], "session": ["M00", "M12"],
                             "years": [0.0, 1.0]})
    joined = join_volumes(visits().drop(columns="session"), volumes, scans=scans, sessions=sessions)
    assert joined["wmh_mm3"].tolist()[:2] == [20.0, 50.0]
    with pytest.raises(DataValidationError, match="cannot place scans in time"):
        join_volumes(visits().drop(columns="session"), volumes, scans=scans)


def test_manifest_problems(tmp_path):
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"subject": ["01", None], "path": ["a.nii", "b.nii"],
                  "years": [0.0, 1.0]}).to_csv(bad, index=False)
    with pytest.raises(DataValidationError, match="'subject' is empty in 1 row"):
        from_manifest(bad)
    with pytest.raises(DataValidationError, match="'session' or a 'years'"):
        from_manifest(pd.DataFrame({"subject": ["01"], "path": ["a.nii"]}))


def test_two_scans_for_one_visit(tree):
    root, _ = tree
    scans = find_scans(root)
    scans.loc[1, "session"] = "M00"
    volumes = lesion_volumes(scans["path"], progress=False)
    with pytest.raises(DataValidationError, match="2 scans share a visit"):
        join_volumes(visits(), volumes, scans=scans)
