"""Write the two small example label maps used by the README's ``alsstats volumes`` example.

    python data/example_labels/make_label_maps.py

Each map is a 40 x 48 x 40 uint8 NIfTI-1 image with 1 mm isotropic voxels, labelled as BISON
labels its tissue classes (1-8) with white-matter hyperintensities as label 9: a box of white
matter (label 3) holding a ball of WMH whose radius differs between the two subjects. The WMH
volume in mm3 is the number of label-9 voxels, printed by this script and recorded in
``volumes_expected.csv`` so a test can check ``alsstats volumes`` against it. The files are
written deterministically (gzip with a zero timestamp), so rerunning the script reproduces
them byte for byte.
"""

from __future__ import annotations

import gzip
import io
from pathlib import Path

import nibabel as nib
import numpy as np

HERE = Path(__file__).resolve().parent
SHAPE = (40, 48, 40)
WMH_LABEL = 9
WHITE_MATTER = 3
RADII_MM = {"sub-01": 4.0, "sub-02": 6.5}


def label_map(radius: float) -> np.ndarray:
    data = np.zeros(SHAPE, dtype=np.uint8)
    data[6:34, 8:40, 6:34] = WHITE_MATTER
    centre = np.array(SHAPE) / 2.0 - 0.5
    grid = np.indices(SHAPE).transpose(1, 2, 3, 0)
    ball = np.linalg.norm(grid - centre, axis=-1) <= radius
    data[ball] = WMH_LABEL
    return data


def nifti_gz_bytes(data: np.ndarray) -> bytes:
    image = nib.Nifti1Image(data, affine=np.diag([1.0, 1.0, 1.0, 1.0]))
    image.header.set_xyzt_units("mm")
    image.header["descrip"] = b"alsstats example label map (9 = WMH)"
    raw = image.to_bytes()
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0, filename="") as stream:
        stream.write(raw)
    return buffer.getvalue()


def main() -> None:
    rows = ["file,label,n_voxels,volume_mm3"]
    for subject, radius in RADII_MM.items():
        data = label_map(radius)
        name = f"{subject}_wmh.nii.gz"
        (HERE / name).write_bytes(nifti_gz_bytes(data))
        count = int((data == WMH_LABEL).sum())
        rows.append(f"{name},{WMH_LABEL},{count},{count:.1f}")
        print(f"{name}: {count} voxels of label {WMH_LABEL} = {count} mm3")
    (HERE / "volumes_expected.csv").write_text("\n".join(rows) + "\n")


if __name__ == "__main__":
    main()
