"""Other tools' files, read and written without those tools installed.

* ``deeplabcut``: DeepLabCut projects (``CollectedData_*.csv``, ``config.yaml``, frames):
  ``read_project``, ``read_collected_data``, ``load_frames``, ``write_project``.
* ``anipose``: anipose / aniposelib calibration files: ``read_anipose_toml``, ``write_anipose_toml``.
* ``sleap``: SLEAP analysis HDF5 files: ``read_sleap_analysis``; ``parents_from_edges`` turns a
  SLEAP or DeepLabCut edge list into a skeleton's parent array.
"""

from . import anipose, deeplabcut, sleap
from .anipose import read_anipose_toml, write_anipose_toml
from .sleap import parents_from_edges, read_sleap_analysis

__all__ = [
    "anipose",
    "deeplabcut",
    "sleap",
    "read_anipose_toml",
    "write_anipose_toml",
    "read_sleap_analysis",
    "parents_from_edges",
]
