"""A bubblewrap sandbox for the kernel that runs a student's notebook during grading.

Inside the sandbox a kernel sees only

* its own submission folder (read-write), where nbgrader runs the notebook,
* the folder holding the kernel's connection file and IPC sockets (read-write, nothing else in it),
* the course's Python environment, the ``lecturekit`` package and the data cache (read-only),
* the system's ``/usr`` and ``/etc`` (read-only), a private ``/tmp``, a new ``/proc`` and a minimal ``/dev``;

no network (``--unshare-net``), no other process (``--unshare-pid``), a new session
(``--new-session``, so it cannot push keys into the grader's terminal) and it dies with its parent.
The solutions, the gradebook, other students' folders and the grader's own files are not there at all.

jupyter_client talks to the kernel over ZeroMQ. With ``--unshare-net`` the kernel has its own
loopback, so TCP cannot reach it; the kernel therefore uses the ``ipc`` transport (Unix sockets),
whose socket files live in the shared connection folder and are reachable across the network
namespace.

:func:`bwrap_argv` is a pure function (paths in, argv out). :func:`sandbox_available` probes
whether bwrap is installed and can create its namespaces here. ``python -m lecturekit.course.sandbox
SPEC.json -- KERNEL ARGV`` builds the argv from a JSON spec and the current environment and
``exec``s bwrap; it is the ``argv`` of the kernel spec that grading installs.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

__all__ = ["bwrap_argv", "sandbox_available", "readonly_paths", "kernel_env", "write_kernelspec", "KEPT_ENV"]

#: Environment variables the kernel keeps (everything else, tokens included, is dropped).
KEPT_ENV = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "PYTHONHASHSEED", "NBGRADER_EXECUTION",
            "LECTUREKIT_CACHE", "LECTUREKIT_CELL_TIMEOUT", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
            "OPENBLAS_NUM_THREADS", "CUDA_VISIBLE_DEVICES", "MPLBACKEND")


def bwrap_argv(command: list[str], *, writable: list[str | Path], readonly: list[str | Path],
               cwd: str | Path, env: dict[str, str], bwrap: str = "bwrap") -> list[str]:
    """The bwrap command line that runs ``command`` in the grading sandbox.

    Args:
        command: the program and its arguments (e.g. the kernel's argv), run inside.
        writable: folders bound read-write at the same path (the submission, the connection folder).
        readonly: files or folders bound read-only at the same path (missing ones are skipped).
        cwd: working folder inside the sandbox (one of ``writable``).
        env: the complete environment inside (the outside one is cleared).
        bwrap: the bwrap executable.
    Returns the argv list; nothing is run.
    """
    if not command:
        raise ValueError("command: expected a non-empty argv list")
    argv = [bwrap, "--unshare-all", "--die-with-parent", "--new-session", "--clearenv",
            "--ro-bind", "/usr", "/usr"]
    for name in ("bin", "sbin", "lib", "lib32", "lib64"):
        link = Path("/") / name
        if link.is_symlink():
            argv += ["--symlink", os.readlink(link), str(link)]
        else:
            argv += ["--ro-bind-try", str(link), str(link)]
    argv += ["--ro-bind-try", "/etc", "/etc", "--ro-bind-try", "/sys/devices/system/cpu", "/sys/devices/system/cpu",
             "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--tmpfs", "/var/tmp", "--dir", "/run"]
    for path in readonly:
        argv += ["--ro-bind-try", str(path), str(path)]
    for path in writable:
        argv += ["--bind", str(path), str(path)]
    for key, value in sorted(env.items()):
        argv += ["--setenv", key, value]
    argv += ["--chdir", str(cwd), "--", *command]
    return argv


def kernel_env(environ: dict[str, str] | os._Environ = os.environ) -> dict[str, str]:
    """The kernel's environment: the :data:`KEPT_ENV` variables of ``environ``, HOME in the private /tmp.

    ``LECTUREKIT_CACHE`` always names the real data cache (default ``$HOME/.cache/lecturekit``).
    """
    env = {k: environ[k] for k in KEPT_ENV if k in environ}
    env.setdefault("PATH", "/usr/bin:/bin")
    # HOME moves to /tmp below: name the data cache (bound read-only at its real path) explicitly
    home = Path(environ.get("HOME") or Path.home())
    env.setdefault("LECTUREKIT_CACHE", str(home / ".cache" / "lecturekit"))
    env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"
    env.update(HOME="/tmp", MPLCONFIGDIR="/tmp/matplotlib", IPYTHONDIR="/tmp/ipython", JUPYTER_RUNTIME_DIR="/tmp")
    return env


def readonly_paths() -> list[str]:
    """What the kernel may read besides the system: the Python environment, lecturekit, the data cache."""
    import lecturekit
    from lecturekit.datasets import cache_dir

    paths = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
             str(Path(lecturekit.__file__).resolve().parent), str(cache_dir())}
    paths.add(str(Path(sys.executable).resolve().parent.parent))
    return sorted(p for p in paths if Path(p).exists())


@functools.lru_cache(maxsize=1)
def sandbox_available(bwrap: str | None = None) -> tuple[bool, str]:
    """``(True, "")`` when bwrap runs a command in the grading sandbox here, else ``(False, why)``."""
    exe = bwrap or shutil.which("bwrap")
    if not exe:
        return False, "bwrap (bubblewrap) is not installed"
    probe = bwrap_argv(["/usr/bin/env", "true"], writable=[], readonly=[], cwd="/", env={}, bwrap=exe)
    try:
        done = subprocess.run(probe, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as error:
        return False, f"bwrap failed to start: {error}"
    if done.returncode != 0:
        return False, "bwrap cannot create namespaces here: " + (done.stderr.strip().splitlines() or ["?"])[-1]
    return True, ""


def write_kernelspec(folder: Path | str, spec_file: Path | str, name: str = "python3") -> Path:
    """Write a kernel spec ``name`` under ``folder/kernels/`` whose kernel starts inside the sandbox.

    Put ``folder`` first on ``JUPYTER_PATH`` so that jupyter_client picks this spec. Interrupts go as
    messages: the kernel runs in its own session and PID namespace, out of reach of a SIGINT to the
    process group jupyter_client started.
    ``spec_file`` is the JSON read by ``python -m lecturekit.course.sandbox`` (``writable``, ``readonly``,
    ``bwrap``, ``cwd``).
    """
    kernel_dir = Path(folder) / "kernels" / name
    kernel_dir.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "lecturekit.course.sandbox", str(spec_file), "--",
            sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (kernel_dir / "kernel.json").write_text(json.dumps(
        {"argv": argv, "display_name": "Python 3 (grading sandbox)", "language": "python",
         "interrupt_mode": "message", "metadata": {"debugger": False}}))
    return kernel_dir


def main(args: list[str]) -> int:
    """``SPEC.json -- COMMAND...``: exec COMMAND in the sandbox described by SPEC (writable, cwd)."""
    if len(args) < 3 or args[1] != "--":
        print("usage: python -m lecturekit.course.sandbox SPEC.json -- COMMAND [ARG ...]", file=sys.stderr)
        return 2
    spec = json.loads(Path(args[0]).read_text())
    cwd = spec.get("cwd") or os.getcwd()
    writable = list(dict.fromkeys([*spec["writable"], cwd]))
    # grading writes the read-only paths into the spec: computing them here would import the
    # course's data module (scipy, the renderer) at every kernel start, about 2 s
    argv = bwrap_argv(args[2:], writable=writable, readonly=spec.get("readonly") or readonly_paths(), cwd=cwd,
                      env=kernel_env(), bwrap=spec.get("bwrap") or shutil.which("bwrap") or "bwrap")
    os.execvp(argv[0], argv)
    return 127


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
