"""Fixtures of the browser suite: Debian's Chromium, the README's ``make lab`` on copies, reports.

Every test here is marked ``browser``. Without Chromium (or the ``playwright`` package, or
``make``) the whole folder is skipped with the reason printed by ``-ra``; CI installs Chromium
(``.ci/run``) so there it runs. See docs/BROWSER_TESTS.md.

The session starts ONE JupyterLab server with the README's command (``HEADLESS=1 PORT=<free>
make lab``) in a temporary course folder holding copies of ``notebooks/`` (the student
notebooks) and of ``solutions/`` (as ``notebooks/<part>__solution/``, same depth, so relative
paths resolve alike), so running and saving in the browser never touches the repository.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import labdriver  # noqa: E402
from labdriver import COURSE, ROOT, SOLUTION_SUFFIX, WELCOME, course_parts  # noqa: E402

SCREENSHOTS = ROOT / "screenshots"
_SUMMARY: dict = {"parts": {}, "started": None}  # started: when Chromium was launched


def _missing_requirement() -> str | None:
    if labdriver.chromium_executable() is None:
        return ("Chromium not found on PATH (install Debian's package: apt-get install chromium); "
                "the browser suite is skipped")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the Python package playwright is not installed (pip install -e '.[dev]'); browser suite skipped"
    if shutil.which("make") is None:
        return "`make` not found: the browser suite starts the README's `make lab`; skipped"
    if not (Path(sys.prefix) / "bin" / "jupyter").exists():
        return f"no jupyter in {sys.prefix}/bin: run the tests from the course's .venv; browser suite skipped"
    return None


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).resolve().parent
    reason = _missing_requirement()
    for item in items:
        if here in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.browser)
            needs_browser = {"chromium", "lab", "browser_context"} & set(getattr(item, "fixturenames", ()))
            if reason and needs_browser:
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session")
def browser_workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("browser")


def make_course_copy(course: Path, target: Path) -> Path:
    """Copy ``notebooks/`` and ``solutions/<part>/`` (as ``notebooks/<part>__solution/``)."""
    ignore = shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__")
    notebooks = target / "notebooks"
    if (course / "notebooks").is_dir():
        shutil.copytree(course / "notebooks", notebooks, ignore=ignore)
    notebooks.mkdir(parents=True, exist_ok=True)
    for part in course_parts(course):
        source = course / "solutions" / part
        if (source / f"{part}.ipynb").is_file():
            shutil.copytree(source, notebooks / f"{part}{SOLUTION_SUFFIX}", ignore=ignore)
    welcome = notebooks / WELCOME / f"{WELCOME}.ipynb"
    if not welcome.is_file():
        # `make lab` opens this notebook and refuses to start without it. Its absence is the main
        # job's failure (test_make_lab_opens_the_course reports it); the copy gets an empty
        # placeholder so that the other parts can still be tested.
        import nbformat

        welcome.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nbformat.v4.new_notebook(), welcome)
    if (course / "data").is_dir():
        (target / "data").symlink_to(course / "data")  # read-only assets at the same relative place
    return target


@pytest.fixture(scope="session")
def lab(browser_workdir):
    """The README's ``make lab`` serving copies of the course's notebooks (one per session)."""
    course = make_course_copy(COURSE, browser_workdir / "course")
    server = labdriver.LabServer(course=course, makefile=ROOT / "Makefile", venv=Path(sys.prefix),
                                 jupyter_env=labdriver.write_jupyter_dirs(browser_workdir / "jupyter"),
                                 log_path=browser_workdir / "lab-server.log")
    try:
        server.start()
    except labdriver.ServerStartError as error:
        server.stop()
        pytest.fail(str(error))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def chromium():
    """Debian's Chromium, launched by playwright (never a downloaded browser)."""
    from playwright.sync_api import sync_playwright

    _SUMMARY["started"] = time.time()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=labdriver.chromium_executable(),
                                             args=list(labdriver.CHROMIUM_ARGS))
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def browser_context(chromium):
    context = chromium.new_context(viewport={"width": 1400, "height": 1000})
    try:
        yield context
    finally:
        context.close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    """``screenshots/`` at the repository root (git-ignored), emptied at the start of a session."""
    if SCREENSHOTS.is_dir():
        shutil.rmtree(SCREENSHOTS)
    SCREENSHOTS.mkdir()
    return SCREENSHOTS


@pytest.fixture(scope="session")
def browser_summary():
    """Per-part results (widgets and controls moved, seconds) collected for the final report."""
    return _SUMMARY["parts"]


def pytest_terminal_summary(terminalreporter):
    parts = _SUMMARY["parts"]
    if not parts or _SUMMARY["started"] is None:
        return
    widgets = sum(p.get("widgets", 0) for p in parts.values())
    controls = sum(p.get("controls", 0) for p in parts.values())
    wall = time.time() - _SUMMARY["started"]
    terminalreporter.section("browser suite")
    for name, p in sorted(parts.items()):
        terminalreporter.write_line(
            f"{name}: {p.get('widgets', 0)} widgets, {p.get('controls', 0)} controls moved, "
            f"Run All {p.get('seconds', 0):.0f} s, whole part {p.get('total_s', 0):.0f} s")
        for row in p.get("redraws", []):
            terminalreporter.write_line(
                f"  redraw widget {row['widget']} {row['kind']} {row['label']!r}: "
                f"median {row['median_redraw_ms']:.0f} ms "
                f"(value sent -> new PNG in the page), kernel {row['median_kernel_ms']:.0f} ms; moves "
                + ", ".join(f"{ms:.0f}" for ms in row["redraw_ms"]) + " ms")
        if p.get("progress_bar"):
            terminalreporter.write_line(f"  progress bar: {p['progress_bar']['text']!r} "
                                        f"({p['progress_bar']['width_pct']:.0f}% filled) -> {name}/progress_bar.png")
    terminalreporter.write_line(f"total: {len(parts)} parts, {widgets} widgets, {controls} controls moved, "
                                f"{wall:.0f} s since Chromium started; screenshots in {SCREENSHOTS}")
    if SCREENSHOTS.is_dir():
        (SCREENSHOTS / "summary.json").write_text(json.dumps(
            {"parts": parts, "widgets": widgets, "controls": controls, "wall_s": round(wall, 1)}, indent=2))
