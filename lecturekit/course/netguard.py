"""No network at run time: a guard that refuses every connection that leaves this machine.

The course must run offline. The test suite installs this guard in the test process and, through
:func:`guard_child_processes`, in every Python process it starts (notebook kernels, nbgrader,
JupyterLab): a ``sitecustomize`` module on ``PYTHONPATH`` installs it at interpreter start, so
importing ``lecturekit`` itself changes nothing. Loopback (Jupyter's own server and kernels) and Unix sockets
stay allowed; anything else raises :class:`NetworkBlocked` before a packet is sent.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from pathlib import Path

__all__ = ["NetworkBlocked", "install", "uninstall", "is_allowed", "guard_child_processes", "ENV_VAR"]

ENV_VAR = "LECTUREKIT_NO_NETWORK"
_original_connect = socket.socket.connect
_original_connect_ex = socket.socket.connect_ex


class NetworkBlocked(ConnectionRefusedError):
    """Raised when code tries to reach the network while the guard is installed."""


def is_allowed(family: int, address) -> bool:
    """True for Unix sockets and loopback addresses (127.0.0.0/8, ::1, 'localhost')."""
    if family == getattr(socket, "AF_UNIX", None):
        return True
    host = address[0] if isinstance(address, tuple) else address
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    except ValueError:
        return False  # a host name other than localhost would need DNS: the network


def _guarded(original):
    def connect(self, address):
        if not is_allowed(self.family, address):
            raise NetworkBlocked(f"network access blocked by lecturekit.course.netguard: connect to {address!r}")
        return original(self, address)

    return connect


def install() -> None:
    """Refuse non-loopback connections in this process (idempotent)."""
    socket.socket.connect = _guarded(_original_connect)
    socket.socket.connect_ex = _guarded(_original_connect_ex)


def uninstall() -> None:
    socket.socket.connect = _original_connect
    socket.socket.connect_ex = _original_connect_ex


def install_if_requested() -> None:
    """Install the guard when ``LECTUREKIT_NO_NETWORK=1`` (called by the ``sitecustomize`` below)."""
    if os.environ.get(ENV_VAR) == "1":
        install()


_SITECUSTOMIZE = """# written by lecturekit.course.netguard.guard_child_processes: no network in this process
try:
    from lecturekit.course import netguard as _netguard
    _netguard.install_if_requested()
except ImportError:
    pass
"""


def guard_child_processes(folder: Path | str) -> None:
    """Make every Python process started from now on by this one refuse the network.

    Writes ``folder/sitecustomize.py`` (which Python imports at start-up), prepends ``folder`` to
    ``PYTHONPATH`` and sets ``LECTUREKIT_NO_NETWORK=1`` in this process's environment.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sitecustomize.py").write_text(_SITECUSTOMIZE)
    paths = [str(folder)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    os.environ["PYTHONPATH"] = os.pathsep.join(paths)
    os.environ[ENV_VAR] = "1"
