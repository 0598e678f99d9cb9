"""Drive the course's JupyterLab the way a student does: the README's server, Chromium, clicks.

Three pieces, used by ``conftest.py`` and ``test_lab.py``:

* :class:`LabServer` starts ``make lab`` (``HEADLESS=1 PORT=<free port>``, the README's command)
  in a course folder with a token, waits until it answers, and stops its whole process group;
* ``lecturekit.course.export.chromium_executable`` / ``CHROMIUM_ARGS`` launch Debian's Chromium (never a
  downloaded one);
* :class:`NotebookTab` is one browser tab holding one notebook: wait for the kernel, Run All,
  wait until every cell ran, save, screenshot a progress bar while it runs, and move each control
  of every ``lecturekit-widget``, timing each redraw (:func:`redraw_timing`).

Nothing here writes to the repository: the session's notebooks are copies (see conftest.py),
and the real ``make lab`` test only opens and reads.
"""

from __future__ import annotations

import base64
import io
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from lecturekit.course.export import CHROMIUM_ARGS, chromium_executable  # noqa: F401  (re-exported: one launch recipe for tests and exports)

ROOT = Path(__file__).resolve().parents[2]
# The course whose notebooks are tested (default: this repository; point it at another course
# folder, e.g. a small sample course, with LECTUREKIT_BROWSER_COURSE=/path).
COURSE = Path(os.environ.get("LECTUREKIT_BROWSER_COURSE", ROOT)).resolve()
# Seconds allowed for one notebook's Run All (the notebooks take 60-90 s on a laptop).
RUN_TIMEOUT_S = float(os.environ.get("LECTUREKIT_BROWSER_TIMEOUT", "900"))
SOLUTION_SUFFIX = "__solution"  # solutions/<part>/ is served as notebooks/<part>__solution/
WELCOME = "00_welcome"          # the notebook `make lab` opens

# Console messages that are not errors of the course: none so far. Add a regular expression here
# (with the reason) only for a message that JupyterLab itself prints in every session.
BENIGN_CONSOLE_ERRORS: tuple[str, ...] = ()

# JupyterLab user settings for the test session (a temporary JUPYTERLAB_SETTINGS_DIR): no autosave
# (the browser never writes a notebook unless the test saves a copy), toasts silenced so none
# covers a widget.
LAB_SETTINGS = {
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
    # No fetchNews / checkForUpdates here: the course's shipped overrides.json (make lab installs
    # it into the environment) must keep the news popup away; test_lab checks that it does.
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"doNotDisturbMode": True},
}


# A widget's redraw is timed from the kernel messages the page sends and receives. This script
# runs in every page before JupyterLab loads: while ``window.__lkRecord`` is true it logs each
# message on a kernel's websocket (page clock ``performance.now()``, direction, ``msg_type``, the
# sender's header ``date``, and a comm ``method`` / ``execution_state``). Only the first 4 kB of a
# message are read: the header comes first in both of Jupyter's websocket formats.
KERNEL_MESSAGE_LOG_JS = r"""
(() => {
  const Native = window.WebSocket;
  const decoder = new TextDecoder();
  window.__lkKernelLog = [];
  window.__lkRecord = false;
  const record = (direction, data) => {
    if (!window.__lkRecord) return;
    const t = performance.now();
    let text = '';
    if (typeof data === 'string') text = data.slice(0, 4096);
    else if (data instanceof ArrayBuffer || ArrayBuffer.isView(data)) {
      const bytes = data instanceof ArrayBuffer ? new Uint8Array(data) : new Uint8Array(data.buffer, data.byteOffset);
      text = decoder.decode(bytes.subarray(0, 4096));
    }
    const find = re => (text.match(re) || [])[1] || '';
    window.__lkKernelLog.push({t, direction, type: find(/"msg_type":\s*"(\w+)"/), date: find(/"date":\s*"([^"]+)"/),
                               detail: find(/"(?:method|execution_state)":\s*"(\w+)"/)});
  };
  function LoggedWebSocket(url, protocols) {
    const ws = protocols === undefined ? new Native(url) : new Native(url, protocols);
    if (String(url).includes('/api/kernels/')) {
      ws.addEventListener('message', event => record('in', event.data));
      const send = ws.send.bind(ws);
      ws.send = data => { record('out', data); send(data); };
    }
    return ws;
  }
  LoggedWebSocket.prototype = Native.prototype;
  for (const name of ['CONNECTING', 'OPEN', 'CLOSING', 'CLOSED']) LoggedWebSocket[name] = Native[name];
  window.WebSocket = LoggedWebSocket;
})();
"""


def _kernel_clock_ms(date: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(date.replace("Z", "+00:00")).timestamp() * 1000.0


def redraw_timing(log: list[dict], image_t: float) -> dict[str, float]:
    """Split one widget redraw into its stages, from the page's kernel-message log.

    Args:
        log: the messages logged by ``KERNEL_MESSAGE_LOG_JS`` during one move, in order: dicts
            with ``t`` (page clock, ms), ``direction`` ('out' page -> kernel, 'in'), ``type``
            (``msg_type``), ``date`` (ISO time the sender stamped), ``detail``.
        image_t: page clock (ms) when the new figure's ``<img>`` was put into the DOM.

    Returns:
        ms durations: ``redraw_ms`` from the control's new value leaving the page (the first
        outgoing ``comm_msg`` 'update') to the new PNG in the DOM, which is what a student waits
        for; its parts ``kernel_ms`` (kernel clock: the kernel turned busy on that message ->
        it sent ``update_display_data``, i.e. ipywidgets + the draw function + PNG encoding),
        ``round_trip_ms`` (value sent -> new figure received, page clock), ``dom_ms`` (figure
        received -> ``<img>`` in the DOM). How the test moved the control (mouse drag, select)
        is not counted.
    """
    sent = next((i for i, m in enumerate(log) if m["direction"] == "out" and m["type"] == "comm_msg"
                 and m["detail"] == "update"), None)
    if sent is None:
        raise AssertionError("no widget value was sent to the kernel (no comm_msg 'update' left the page)")
    after = log[sent + 1:]
    busy = next((m for m in after if m["direction"] == "in" and m["type"] == "status" and m["detail"] == "busy"), None)
    shown = next((m for m in after if m["direction"] == "in" and m["type"] == "update_display_data"), None)
    if busy is None or shown is None:
        raise AssertionError(f"the kernel sent no {'busy status' if busy is None else 'update_display_data'} "
                             "after the widget's new value")
    t_sent = log[sent]["t"]
    return {"redraw_ms": image_t - t_sent,
            "kernel_ms": _kernel_clock_ms(shown["date"]) - _kernel_clock_ms(busy["date"]),
            "round_trip_ms": shown["t"] - t_sent,
            "dom_ms": image_t - shown["t"]}


def course_parts(course: Path = COURSE) -> list[str]:
    """Every part with a student or a solution notebook: ``<dir>/<part>/<part>.ipynb``."""
    parts = set()
    for kind in ("notebooks", "solutions"):
        folder = course / kind
        if folder.is_dir():
            parts.update(p.name for p in folder.iterdir() if (p / f"{p.name}.ipynb").is_file())
    return sorted(parts)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_jupyter_dirs(base: Path) -> dict[str, str]:
    """Create private Jupyter config/settings/workspace/runtime folders under ``base``.

    Returns the environment variables that point the server at them, so a test session neither
    reads nor writes the user's ``~/.jupyter``. JupyterLab checkpoints a notebook when it opens
    it; the checkpoints go to ``base/checkpoints`` instead of ``.ipynb_checkpoints/`` beside the
    notebook, so opening the real course leaves no file behind. Running as root (CI containers)
    also needs ``allow_root``, which only a config file or a command-line flag can give.
    """
    config = base / "jupyter-config"
    settings = base / "lab-user-settings"
    config.mkdir(parents=True, exist_ok=True)
    server_config = {"FileCheckpoints": {"checkpoint_dir": str(base / "checkpoints")}}
    if os.geteuid() == 0:
        server_config["ServerApp"] = {"allow_root": True}
    (config / "jupyter_server_config.json").write_text(json.dumps(server_config))
    for name, values in LAB_SETTINGS.items():
        path = settings / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    (base / "lab-workspaces").mkdir(exist_ok=True)
    (base / "runtime").mkdir(exist_ok=True)
    return {"JUPYTER_CONFIG_DIR": str(config), "JUPYTERLAB_SETTINGS_DIR": str(settings),
            "JUPYTERLAB_WORKSPACES_DIR": str(base / "lab-workspaces"), "JUPYTER_RUNTIME_DIR": str(base / "runtime")}


class ServerStartError(RuntimeError):
    """``make lab`` did not answer on its port."""


@dataclass
class LabServer:
    """``HEADLESS=1 PORT=<port> make lab`` run in ``course`` (a folder holding ``notebooks/``).

    ``makefile``/``venv`` are the repository's; ``make -o <venv>/.installed`` skips only the
    one-time ``pip install -e .[dev]`` step (the tests already run inside that environment).
    """

    course: Path
    makefile: Path
    venv: Path
    jupyter_env: dict
    log_path: Path
    start_timeout: float = 120.0
    port: int = 0
    token: str = ""
    process: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        return ["make", "--no-print-directory", "-C", str(self.course), "-f", str(self.makefile),
                f"VENV={self.venv}", "-o", f"{self.venv}/.installed", "lab"]

    def start(self, attempts: int = 3) -> "LabServer":
        """Start the server (a new port on each retry); raises ServerStartError with the log."""
        import secrets

        last = ""
        for _ in range(attempts):
            self.port, self.token = free_port(), secrets.token_hex(16)
            env = dict(os.environ)
            env.pop("MPLBACKEND", None)  # the test process uses Agg; a student's kernel uses inline
            env.update(self.jupyter_env)
            env.update({"HEADLESS": "1", "PORT": str(self.port), "JUPYTER_TOKEN": self.token})
            with open(self.log_path, "ab") as log:
                self.process = subprocess.Popen(self.command(), cwd=self.course, env=env, stdout=log,
                                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                                start_new_session=True)
            log_start = self.log_path.stat().st_size if self.log_path.exists() else 0
            deadline = time.monotonic() + self.start_timeout
            while time.monotonic() < deadline and self.process.poll() is None:
                try:
                    self.api("status")
                    return self
                except (urllib.error.URLError, ConnectionError, OSError):
                    time.sleep(0.5)
            exited = self.process.poll() is not None
            last = self.log_tail()
            self.stop()
            if exited and "already in use" not in self.log_path.read_text(errors="replace")[log_start:]:
                break  # a real failure (missing notebook, bad config): retrying cannot help
        raise ServerStartError(f"`make lab` did not start in {self.course}; last log lines:\n{last}")

    def api(self, path: str, method: str = "GET"):
        """JSON from the server's REST API (``/api/<path>``), authenticated with the token."""
        request = urllib.request.Request(f"{self.base_url}/api/{path}", method=method,
                                         headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
        return json.loads(body) if body else None

    def shutdown_kernels(self, paths) -> None:
        """Shut down the kernels of the sessions on ``paths`` (closing a tab leaves them running)."""
        wanted = set(paths)
        for session in self.api("sessions") or []:
            if session.get("path") in wanted and session.get("kernel"):
                self.api(f"kernels/{session['kernel']['id']}", method="DELETE")

    def url(self, path: str, workspace: str | None = None) -> str:
        """The lab URL of a notebook path (relative to the server's notebook dir)."""
        prefix = f"/lab/workspaces/{workspace}" if workspace else "/lab"
        return f"{self.base_url}{prefix}/tree/{path}?token={self.token}"

    def log_tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def stop(self) -> None:
        """Shut kernels down through the API, then end the server's process group (always)."""
        if self.process is None:
            return
        try:
            if self.process.poll() is None:
                try:
                    for kernel in self.api("kernels") or []:
                        self.api(f"kernels/{kernel['id']}", method="DELETE")
                except (urllib.error.URLError, OSError, ValueError):
                    pass
            for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
                try:
                    os.killpg(self.process.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    self.process.wait(timeout=wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
        finally:
            self.process = None


def png_pixels(data: bytes):
    """Decode PNG bytes into an (H, W, C) uint8 array."""
    import numpy as np
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("RGB"))


def pixels_differ(a: bytes, b: bytes) -> float:
    """Fraction of pixels that differ between two PNGs (1.0 when their sizes differ)."""
    import numpy as np

    pa, pb = png_pixels(a), png_pixels(b)
    if pa.shape != pb.shape:
        return 1.0
    return float(np.any(pa != pb, axis=-1).mean())


def data_url_bytes(src: str | None) -> bytes | None:
    if not src or not src.startswith("data:image/png;base64,"):
        return None
    return base64.b64decode(src.split(",", 1)[1])


@dataclass
class ControlResult:
    """What one move of a control did: its kind and label, value before/after, pixels changed.

    The times (ms) are :func:`redraw_timing`'s: ``redraw_ms`` from the new value leaving the page
    to the new PNG in the DOM, and its parts.
    """

    widget: int
    kind: str
    label: str
    before: str
    after: str
    pixel_change: float
    redraw_ms: float = float("nan")
    kernel_ms: float = float("nan")
    round_trip_ms: float = float("nan")
    dom_ms: float = float("nan")


def redraw_medians(results: list[ControlResult]) -> list[dict]:
    """One row per control (in the order moved): its moves' redraw times and their medians (ms).

    Medians, not single moves, are what the suite judges: the test machine is shared, and one
    move can wait for a busy CPU.
    """
    import statistics

    rows: dict[tuple, dict] = {}
    for r in results:
        row = rows.setdefault((r.widget, r.label), {"widget": r.widget, "kind": r.kind, "label": r.label,
                                                    "redraw_ms": [], "kernel_ms": []})
        row["redraw_ms"].append(r.redraw_ms)
        row["kernel_ms"].append(r.kernel_ms)
    for row in rows.values():
        row["median_redraw_ms"] = statistics.median(row["redraw_ms"])
        row["median_kernel_ms"] = statistics.median(row["kernel_ms"])
    return list(rows.values())


TQDM_LINE = r"\d+%\|.*\|\s*\d+/\d+ \["   # "Gibbs sweeps:  40%|####      | 16/40 [00:02<00:03, ...]"


def shows_progress_bar(nb) -> bool:
    """Whether a notebook's stored outputs hold a tqdm notebook bar (a widget whose text is a tqdm line)."""
    import re

    for cell in nb.cells:
        for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
            data = out.get("data", {})
            text = data.get("text/plain", "")
            text = "".join(text) if isinstance(text, list) else text
            if "application/vnd.jupyter.widget-view+json" in data and re.search(TQDM_LINE, text):
                return True
    return False


def saturated_pixels(png: bytes, spread: int = 80) -> int:
    """How many pixels of a PNG are strongly coloured (max - min channel > ``spread``), e.g. a bar's fill."""
    pixels = png_pixels(png).astype(int)
    return int(((pixels.max(axis=-1) - pixels.min(axis=-1)) > spread).sum())


class NotebookTab:
    """One browser tab (its own JupyterLab workspace) showing one notebook of the server."""

    # The active notebook panel (each tab shows one notebook).
    PANEL = ".jp-NotebookPanel:not(.lm-mod-hidden)"

    def __init__(self, context, server: LabServer, path: str, workspace: str):
        self.page = context.new_page()
        self.page.add_init_script(KERNEL_MESSAGE_LOG_JS)
        self.server, self.path, self.workspace = server, path, workspace
        self.console_errors: list[str] = []
        self.page.on("console", self._on_console)
        self.page.on("pageerror", lambda error: self.console_errors.append(f"uncaught: {error}"))

    def _on_console(self, message) -> None:
        import re

        if message.type == "error" and not any(re.search(p, message.text) for p in BENIGN_CONSOLE_ERRORS):
            location = message.location or {}
            self.console_errors.append(f"console.error: {message.text} ({location.get('url', '')})")

    # -- opening and running -------------------------------------------------------------
    def open(self, timeout_ms: int) -> None:
        """Load JupyterLab on the notebook and wait until its kernel is idle."""
        self.page.goto(self.server.url(self.path, self.workspace), wait_until="domcontentloaded")
        self.page.wait_for_selector(f"{self.PANEL} .jp-Notebook .jp-Cell", timeout=timeout_ms)
        self.wait_kernel_idle(timeout_ms)

    def wait_kernel_idle(self, timeout_ms: int) -> None:
        """Wait for the status bar's kernel item to read '<kernel name> | Idle'."""
        self.page.wait_for_function(
            """() => Array.from(document.querySelectorAll('.jp-StatusBar-TextItem'))
                    .some(e => /^(?!No Kernel).+ \\| Idle$/.test(e.textContent.trim()))""",
            timeout=timeout_ms)

    def run_all(self) -> None:
        """Edit > Clear Outputs of All Cells, then Run > Run All Cells, through the menu bar.

        Clearing first matters for solution notebooks, stored with outputs: afterwards every
        output and execution count comes from this run, and a cell that did not run shows none.
        """
        self.page.get_by_role("menuitem", name="Edit", exact=True).click()
        self.page.get_by_role("menuitem", name="Clear Outputs of All Cells", exact=True).click()
        self.page.wait_for_function(
            f"""() => !Array.from(document.querySelectorAll('{self.PANEL} .jp-CodeCell .jp-InputPrompt'))
                        .some(e => /\\[[\\d*]+\\]/.test(e.textContent))""", timeout=30_000)
        self.page.get_by_role("menuitem", name="Run", exact=True).click()
        self.page.locator('li[data-command="runmenu:run-all"]').click()

    def _run_finished_js(self) -> str:
        return f"""() => {{
                const prompts = Array.from(document.querySelectorAll('{self.PANEL} .jp-CodeCell .jp-InputPrompt'))
                    .map(e => e.textContent);
                const busy = prompts.some(t => t.includes('*'));
                const ran = prompts.some(t => /\\[\\d+\\]/.test(t));
                const idle = Array.from(document.querySelectorAll('.jp-StatusBar-TextItem'))
                    .some(e => / \\| Idle$/.test(e.textContent.trim()));
                return ran && !busy && idle;
            }}"""

    def wait_run_finished(self, timeout_ms: int) -> None:
        """Wait until no cell is queued or running ('[*]') and the kernel is idle again."""
        self.page.wait_for_function(self._run_finished_js(), timeout=timeout_ms, polling=500)

    def capture_progress_bar(self, path: Path, timeout_ms: int) -> dict | None:
        """While Run All runs, screenshot the first progress bar that shows progress.

        ``tqdm.auto`` in JupyterLab 4 with ipywidgets 8 renders an HBox
        (``.widget-hbox``: ``.widget-html`` description, a ``.widget-hprogress`` FloatProgress
        whose ``.progress > .progress-bar`` has a CSS width of value/max %, ``.widget-html``
        counts) in a widget-view output. Bars made with ``leave=False`` (GIMBAL's sweeps) are
        closed when they finish, so the bar is caught while its cell runs. The tab is brought
        to the front (a background tab renders at a throttled rate).

        Returns None when the run ends with no bar seen and screenshotted (its coloured fill in
        the picture), else what was seen: ``width_pct`` (the bar's CSS width), ``text`` (the bar's
        line), ``widget`` (the output holds an ipywidgets HBox; a widget output has no MIME type
        attribute), ``mime`` (its output's ``data-mime-type``, stderr text would have one),
        ``stderr`` (stderr outputs in its cell then), ``cell`` (index among the code cells).
        """
        from playwright.sync_api import Error as PlaywrightError

        self.page.bring_to_front()
        deadline = time.monotonic() + timeout_ms / 1000
        while time.monotonic() < deadline:
            seen = self.page.evaluate(
                f"""() => {{
                    const cells = Array.from(document.querySelectorAll('{self.PANEL} .jp-CodeCell'));
                    document.querySelectorAll('[data-lk-progress]').forEach(e => e.removeAttribute('data-lk-progress'));
                    const bars = document.querySelectorAll('{self.PANEL} .jp-OutputArea-output .widget-hprogress');
                    for (const bar of bars) {{
                        const fill = bar.querySelector('.progress-bar');
                        const width = fill ? parseFloat(fill.style.width) : NaN;
                        if (!(width > 0 && width < 100)) continue;
                        const output = bar.closest('.jp-OutputArea-output');
                        const cell = bar.closest('.jp-CodeCell');
                        output.setAttribute('data-lk-progress', '1');
                        output.scrollIntoView({{block: 'center'}});
                        return {{width_pct: width, text: output.textContent.trim(), mime: output.dataset.mimeType || '',
                                 widget: output.querySelector(':scope > .jupyter-widgets.widget-hbox') !== null,
                                 stderr: cell.querySelectorAll(
                                     ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']").length,
                                 cell: cells.indexOf(cell)}};
                    }}
                    return null;
                }}""")
            if seen is not None:
                # Outputs arriving above move the bar while it is captured: keep the first
                # screenshot that shows the bar's coloured fill.
                try:
                    shot = self.page.locator("[data-lk-progress]").first.screenshot(timeout=5_000)
                except PlaywrightError:  # the bar finished and closed in between: take the next one
                    shot = None
                if shot is not None and saturated_pixels(shot) >= 20:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_bytes(shot)
                    return seen
            elif self.page.evaluate(self._run_finished_js()):
                return None
            time.sleep(0.2)
        return None

    def stderr_in_cell(self, index: int) -> list[str]:
        """The stderr strips shown in the ``index``-th code cell of the notebook."""
        return self.page.evaluate(
            f"""i => Array.from(document.querySelectorAll('{self.PANEL} .jp-CodeCell')[i]
                      .querySelectorAll(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"))
                      .map(e => e.textContent)""", index)

    def save(self, timeout_ms: int = 60_000) -> None:
        """File > Save (Ctrl+S) and wait until the tab is no longer marked dirty."""
        self.page.locator(f"{self.PANEL} .jp-Notebook").click(position={"x": 5, "y": 5})
        self.page.keyboard.press("Control+s")
        self.page.wait_for_function(
            "() => !document.querySelector('.lm-TabBar-tab.jp-mod-current.jp-mod-dirty')", timeout=timeout_ms)

    def screenshot(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(path))

    def screenshot_cell(self, text: str, path: Path, *, css: str = ".jp-CodeCell") -> bool:
        """Screenshot the first cell (``css``) containing ``text``; False when there is none."""
        cell = self.page.locator(f"{self.PANEL} {css}").filter(has_text=text).first
        if cell.count() == 0:
            return False
        cell.scroll_into_view_if_needed()
        path.parent.mkdir(parents=True, exist_ok=True)
        cell.screenshot(path=str(path))
        return True

    def self_check_outputs(self) -> list[int]:
        """For every self-check cell in the page: how many outputs it shows (one per check line)."""
        return self.page.evaluate(
            f"""() => Array.from(document.querySelectorAll('{self.PANEL} .jp-CodeCell'))
                .filter(c => /^# Self-check/.test((c.querySelector('.cm-line') || {{}}).textContent || ''))
                .map(c => c.querySelectorAll('.jp-OutputArea-output').length)""")

    def self_check_lines(self) -> list[list[str]]:
        """The text of every output of every self-check cell (to spot a line shown twice)."""
        return self.page.evaluate(
            f"""() => Array.from(document.querySelectorAll('{self.PANEL} .jp-CodeCell'))
                .filter(c => /^# Self-check/.test((c.querySelector('.cm-line') || {{}}).textContent || ''))
                .map(c => Array.from(c.querySelectorAll('.jp-OutputArea-output'))
                                .map(o => o.textContent.trim()))""")

    def stderr_outputs(self) -> list[str]:
        return self.page.locator(
            f"{self.PANEL} .jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']").all_text_contents()

    def error_outputs_in_dom(self) -> list[str]:
        """Text of every traceback shown in the notebook (what a student would see)."""
        return self.page.evaluate(
            f"""() => Array.from(document.querySelectorAll('{self.PANEL} .jp-OutputArea-output'))
                    .filter(e => e.dataset.mimeType === 'application/vnd.jupyter.stderr')
                    .map(e => e.textContent)
                    .filter(t => t.includes('Traceback') || /Error\\b/.test(t))""")

    def close(self) -> None:
        self.page.close()

    # -- widgets -------------------------------------------------------------------------
    def widgets(self):
        return self.page.locator(f"{self.PANEL} .lecturekit-widget")

    def exercise_widgets(self, timeout_ms: int, shots: Path | None = None, moves: int = 1) -> list[ControlResult]:
        """Move every control of every course widget ``moves`` times; assert the figure changed each time.

        The tab is brought to the front first: Chromium delivers mouse input to a background tab
        at its throttled frame rate, which made each slider drag take 2-5 s before the new value
        even left the page (a dropdown, set by a JavaScript event, was not slowed).
        """
        self.page.bring_to_front()
        results = []
        boxes = self.widgets()
        for w in range(boxes.count()):
            box = boxes.nth(w)
            box.scroll_into_view_if_needed()
            controls = box.locator(":scope > .widget-hbox > .lm-Widget")
            assert controls.count() > 0, f"widget {w}: no controls found in its HBox"
            previous = self._static_figure(box)
            cell = box.locator("xpath=ancestor::div[contains(@class, 'jp-CodeCell')][1]")
            if shots is not None:
                shots.mkdir(parents=True, exist_ok=True)
                cell.screenshot(path=str(shots / f"widget{w}_before.png"))
            for c in range(controls.count()):
                for attempt in range(moves):
                    result, previous = self._move(box, controls.nth(c), w, c, previous, timeout_ms,
                                                  to_middle=attempt % 2 == 1)
                    results.append(result)
            if shots is not None:
                cell.screenshot(path=str(shots / f"widget{w}.png"))
                cell.screenshot(path=str(shots / f"widget{w}_after.png"))
        return results

    def _static_figure(self, box) -> bytes | None:
        """The PNG shown above the widget (the figure at the controls' defaults)."""
        src = box.evaluate(
            """el => {
                const area = el.closest('.jp-OutputArea');
                const img = area && area.querySelector('.jp-OutputArea-child img');
                return img ? img.getAttribute('src') : null;
            }""")
        return data_url_bytes(src)

    def _output_src(self, box) -> str | None:
        return box.evaluate(
            "el => { const img = el.closest('.jp-OutputArea').querySelector('.jp-OutputArea-child img'); "
            "return img ? img.getAttribute('src') : null; }")

    def figures_of(self, box) -> list[dict]:
        """Every image in the widget's cell output: its shown size (one figure per widget)."""
        return box.evaluate(
            """el => Array.from(el.closest('.jp-OutputArea').querySelectorAll('img'))
                     .map(i => ({w: i.clientWidth, h: i.clientHeight}))""")

    def _move(self, box, control, w: int, index: int, previous: bytes | None, timeout_ms: int,
              to_middle: bool = False):
        """Move one control (a slider to the end it is not at, or to the middle of its track:
        the two ends of a periodic control such as an azimuth draw the same figure)."""
        classes = control.get_attribute("class") or ""
        label = control.evaluate(
            """c => [c.querySelector('.widget-label'), c.querySelector('.widget-label-basic span')]
                     .map(e => e ? e.textContent.replace('\\u200b', '').trim() : '').find(t => t) || ''""")
        label = label or f"control {w}.{index}"
        # Watch the figure area: every image the redraw puts there is counted, with its time.
        box.evaluate(
            """el => {
                const area = el.closest('.jp-OutputArea');
                if (el._lkObserver) el._lkObserver.disconnect();
                el._lkAdded = 0; el._lkLast = 0; el._lkFirst = 0;
                el._lkObserver = new MutationObserver(records => {
                    for (const r of records) for (const n of r.addedNodes) {
                        if (n.nodeType === 1 && (n.tagName === 'IMG' || n.querySelector('img'))) {
                            el._lkAdded += 1; el._lkLast = performance.now();
                            if (!el._lkFirst) el._lkFirst = el._lkLast;
                        }
                    }
                });
                el._lkObserver.observe(area, {childList: true, subtree: true});
            }""")
        kind, value, shown, move = self._control_driver(control, classes, f"widget {w} {label!r}", to_middle)
        before, shown_before = value(), shown()
        sizes_before = self.figures_of(box)
        self.page.evaluate("() => { window.__lkKernelLog = []; window.__lkRecord = true; }")
        move()

        # The figure area must be redrawn: a new image (then none for a while: a drag may send
        # several values), and the kernel idle again.
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        try:
            self.page.wait_for_function(
                """el => {
                    const img = el.closest('.jp-OutputArea').querySelector('.jp-OutputArea-child img');
                    const idle = Array.from(document.querySelectorAll('.jp-StatusBar-TextItem'))
                        .some(e => / \\| Idle$/.test(e.textContent.trim()));
                    return el._lkAdded > 0 && img && img.complete && idle && performance.now() - el._lkLast > 750;
                }""", arg=box.element_handle(), timeout=timeout_ms, polling=250)
        except PlaywrightTimeout:
            raise AssertionError(f"widget {w} {kind} {label!r}: moved from {before} to {value()}, but no figure "
                                 f"was drawn in its output area within {timeout_ms / 1000:.0f} s") from None
        box.evaluate("el => el._lkObserver.disconnect()")
        log = self.page.evaluate("() => { window.__lkRecord = false; return window.__lkKernelLog; }")
        try:
            timing = redraw_timing(log, box.evaluate("el => el._lkFirst"))
        except AssertionError as error:
            raise AssertionError(f"widget {w} {kind} {label!r}: {error}") from None
        sizes_after = self.figures_of(box)
        assert len(sizes_after) == 1, f"widget {w} {label!r}: {len(sizes_after)} figures in its cell, expected one"
        assert sizes_after == sizes_before, \
            f"widget {w} {label!r}: the figure changed size {sizes_before} -> {sizes_after}"
        after, shown_after = value(), shown()
        assert after != before, f"widget {w} {kind} {label!r}: value stayed {before!r} after moving it"
        assert shown_after != shown_before, f"widget {w} {kind} {label!r}: its label still reads {shown_before!r}"
        note = box.locator(".widget-html-content").first.text_content() if box.locator(
            ".widget-html-content").count() else ""
        assert "Move a control" not in (note or ""), f"widget {w}: the 'move a control' note was not cleared"
        stderr = box.locator("xpath=ancestor::div[contains(@class, 'jp-OutputArea')][1]").locator(
            ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
        assert stderr.count() == 0, f"widget {w} {label!r}: redraw printed an error: {stderr.first.text_content()}"
        now = data_url_bytes(self._output_src(box))
        assert now is not None, f"widget {w} {label!r}: the redrawn output is not a PNG figure"
        change = pixels_differ(previous, now) if previous is not None else 1.0
        assert change > 0, f"widget {w} {kind} {label!r}: moving it from {before} to {after} left the figure " \
                           "pixel-identical"
        timing = {name: round(ms, 1) for name, ms in timing.items()}
        return ControlResult(w, kind, label, str(before), str(after), change, **timing), now

    def _control_driver(self, control, classes: str, name: str, to_middle: bool = False):
        """(kind, value(), shown label text(), move()) for one ipywidgets control in the DOM."""
        if "widget-slider" in classes:
            handle = control.locator(".noUi-handle").first
            return ("slider", lambda: handle.get_attribute("aria-valuenow"),
                    lambda: control.locator(".widget-readout").text_content(),
                    lambda: self._drag_slider(control, handle, to_middle))
        if "widget-dropdown" in classes:
            select = control.locator("select")
            values = select.locator("option").evaluate_all("os => os.map(o => o.value)")
            assert len(values) > 1, f"{name}: a dropdown with one option {values}"

            def pick():
                current = select.input_value()
                select.select_option(value=values[-1] if current != values[-1] else values[0])

            text = lambda: select.evaluate("s => s.options[s.selectedIndex].textContent")  # noqa: E731
            return "dropdown", select.input_value, text, pick
        if "widget-checkbox" in classes:
            tick = control.locator("input[type=checkbox]")
            return "checkbox", lambda: str(tick.is_checked()), lambda: str(tick.is_checked()), tick.click
        if "widget-toggle-buttons" in classes:
            assert control.locator("button").count() > 1, f"{name}: toggle buttons with one choice"
            active = lambda: control.locator("button.mod-active").first.text_content()  # noqa: E731
            return ("toggle buttons", active, active,
                    lambda: control.locator("button:not(.mod-active)").first.click())
        if "widget-radio" in classes:
            assert control.locator("input[type=radio]").count() > 1, f"{name}: radio buttons with one choice"
            checked = lambda: control.locator("label:has(input:checked)").first.text_content()  # noqa: E731
            return ("radio buttons", checked, checked,
                    lambda: control.locator("input[type=radio]:not(:checked)").first.check())
        raise AssertionError(
            f"{name}: a control with classes {classes!r} is not one the browser suite can move (slider, dropdown, "
            "checkbox, toggle buttons, radio buttons); extend tests/browser/labdriver.py")

    def _drag_slider(self, control, handle, to_middle: bool = False) -> None:
        """Drag the noUiSlider handle to the far end of its track (the end it is not at), or to its middle."""
        handle.scroll_into_view_if_needed()
        track = control.locator(".noUi-base").first.bounding_box()
        grip = handle.bounding_box()
        assert track and grip, "slider not visible"
        now = float(handle.get_attribute("aria-valuenow"))
        high = float(handle.get_attribute("aria-valuemax"))
        x0, y0 = grip["x"] + grip["width"] / 2, grip["y"] + grip["height"] / 2
        x1 = track["x"] + track["width"] + 20 if now < high else track["x"] - 20
        if to_middle:
            x1 = track["x"] + track["width"] / 2
        mouse = self.page.mouse
        mouse.move(x0, y0)
        mouse.down()
        mouse.move(x1, y0, steps=2)
        mouse.up()


# -- what a run must look like ------------------------------------------------------------------
SELF_CHECK_FIRST_LINE = "# self-check"
NOT_YET, PASSED = "NOT YET", "PASSED"


def _text(outputs, name: str | None = None) -> str:
    return "".join(o.get("text", "") for o in outputs
                   if o.get("output_type") == "stream" and (name is None or o.get("name") == name))


def _shown(outputs) -> str:
    """Everything a cell shows as text: printed lines and displayed objects' text/plain, one a line."""
    lines = [_text(outputs, "stdout")]
    for o in outputs:
        if o.get("output_type") in ("display_data", "execute_result"):
            text = o.get("data", {}).get("text/plain", "")
            lines.append("".join(text) if isinstance(text, list) else text)
    return "\n".join(line.rstrip("\n") for line in lines if line)


def run_problems(nb, *, student: bool) -> list[str]:
    """Everything wrong with a notebook saved after Run All in the browser (empty list: fine).

    Both versions: every non-empty code cell ran (Run All reached the end), nothing on stderr,
    every self-check line shown once (no ``Out[n]`` echo). Student version: the only errors
    allowed are ``NotImplementedError``; every
    ``# Self-check`` cell prints NOT YET and no other cell does. Solution version: no error
    output at all, every self-check prints PASSED and none prints NOT YET.
    """
    problems, unrun = [], []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or not cell.source.strip():
            continue
        first = cell.source.strip().splitlines()[0].strip().lower()
        is_check = first.startswith(SELF_CHECK_FIRST_LINE)
        outputs = cell.get("outputs", [])
        where = f"cell {i} ({first[:50]!r})"
        if cell.get("execution_count") is None:
            unrun.append(i)
            continue
        for out in outputs:
            if out.get("output_type") == "error":
                if not (student and out.get("ename") == "NotImplementedError"):
                    problems.append(f"{where}: {out.get('ename')}: {out.get('evalue')}")
        if "Traceback (most recent call last)" in _text(outputs, "stderr"):
            problems.append(f"{where}: a traceback on stderr: {_text(outputs, 'stderr')[-300:]}")
        elif _text(outputs, "stderr").strip():
            problems.append(f"{where}: a stderr strip: {_text(outputs, 'stderr')[-300:]!r}")
        stdout = _shown(outputs)
        if is_check:
            echoed = [o for o in outputs if o.get("output_type") == "execute_result"]
            lines = [line for line in stdout.splitlines() if line.strip()]
            if echoed or len(lines) != len(set(lines)):
                problems.append(f"{where}: a self-check shows its result twice (Out[n] or a repeated line): {stdout!r}")
        if is_check and student and NOT_YET not in stdout:
            problems.append(f"{where}: a self-check in the student notebook must print {NOT_YET}; printed {stdout!r}")
        if is_check and not student and (PASSED not in stdout or NOT_YET in stdout):
            problems.append(f"{where}: a self-check in the solution must print {PASSED} only; printed {stdout!r}")
        if not is_check and NOT_YET in stdout:
            problems.append(f"{where}: prints {NOT_YET} but is not a self-check cell")
    if unrun:
        problems.append(f"{len(unrun)} code cell(s) did not run (Run All stopped before them): "
                        f"cells {', '.join(map(str, unrun[:8]))}{' ...' if len(unrun) > 8 else ''}")
    return problems
