"""lecturekit: the helper library of the course *Markerless Pose Tracking*.

One module per idea of the lecture (Linderman, STATS 320): see README.md for the map.
"""

from . import netguard as _netguard

_netguard.install_if_requested()  # the test suite sets LECTUREKIT_NO_NETWORK=1 for kernels

__version__ = "0.1.0"
