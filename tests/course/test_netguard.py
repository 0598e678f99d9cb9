"""The offline guard: any connection leaving the machine fails the test that makes it."""

import socket

import pytest

from lecturekit.course import netguard
from lecturekit.course.notebook_run import cell_errors, execute_notebook


@pytest.mark.parametrize("family, address, allowed", [
    (socket.AF_INET, ("127.0.0.1", 8888), True),
    (socket.AF_INET, ("localhost", 80), True),
    (socket.AF_INET6, ("::1", 80, 0, 0), True),
    (socket.AF_INET, ("192.0.2.1", 80), False),
    (socket.AF_INET, ("10.0.0.1", 443), False),
    (socket.AF_INET, ("pypi.org", 443), False),
    (socket.AF_UNIX, "/tmp/some.sock", True),
])
def test_decision(family, address, allowed):
    assert netguard.is_allowed(family, address) is allowed


def test_blocked_connect_never_reaches_the_socket(monkeypatch):
    calls = []
    monkeypatch.setattr(netguard, "_original_connect", lambda self, address: calls.append(address))
    netguard.install()
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            with pytest.raises(netguard.NetworkBlocked, match="192.0.2.1"):
                sock.connect(("192.0.2.1", 80))
            sock.connect(("127.0.0.1", 9))  # loopback goes through to the (recording) socket call
    finally:
        monkeypatch.undo()
        netguard.install()  # back to the real guarded connect for the rest of the session
    assert calls == [("127.0.0.1", 9)]


def test_guard_is_active_in_this_test_session():
    assert socket.socket.connect is not netguard._original_connect


def test_guard_is_active_in_notebook_kernels(tmp_path):
    """Kernels started by the tests are guarded from their first line, without importing lecturekit."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    path = tmp_path / "net.ipynb"
    nbformat.write(new_notebook(cells=[new_code_cell(
        "import socket\nsocket.create_connection(('192.0.2.1', 80), timeout=1)")]), path)
    errors = cell_errors(execute_notebook(path, allow_errors=True, timeout=60))
    assert [e.ename for e in errors] == ["NetworkBlocked"]
