"""Other tools' files, read and written without those tools installed.

* ``deeplabcut``: DeepLabCut projects (``CollectedData_*.csv``, ``config.yaml``, frames):
  ``read_project``, ``read_collected_data``, ``load_frames``, ``write_project``.
* ``anipose``: anipose / aniposelib calibration files: ``read_anipose_toml``, ``write_anipose_toml``.
"""

from . import anipose, deeplabcut
from .anipose import read_anipose_toml, write_anipose_toml

__all__ = ["anipose", "deeplabcut", "read_anipose_toml", "write_anipose_toml"]
