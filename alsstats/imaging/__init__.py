"""Imaging: lesion volumes and ROI intensities from label maps (NIfTI, MINC).

- :func:`lesion_volumes` counts a label (BISON's WMH is 9) in many label maps, fast.
- :func:`roi_intensity` gives mean (normalised) FLAIR intensity per atlas region.
- :func:`find_scans`, :func:`from_manifest` map files to subject and session;
  :func:`join_volumes` puts the measurements onto the visit table.
"""

from __future__ import annotations

from alsstats.imaging.intensity import NORMALIZATIONS, roi_intensity
from alsstats.imaging.manifest import find_scans, from_manifest, join_volumes
from alsstats.imaging.volumes import BISON_LABELS, lesion_volumes

__all__ = [
    "BISON_LABELS",
    "NORMALIZATIONS",
    "find_scans",
    "from_manifest",
    "join_volumes",
    "lesion_volumes",
    "roi_intensity",
]
