"""The course in a real browser: the README's ``make lab``, JupyterLab, ipywidgets, Chromium.

* ``test_make_lab_opens_the_course``: the main job. The README's command, in the repository
  itself, starts; the contents API and JupyterLab's file browser list the parts; ``00_welcome``
  opens and its kernel starts. Nothing is run or saved, and the test checks that no file of
  ``notebooks/00_welcome`` changed.
* ``test_notebook_in_browser[<part>]``: for each part, the student notebook and the solution
  notebook are opened in two tabs of one server (copies), Run All is clicked in both, and then:
  the student version fails exactly where a student has work to do (self-checks print NOT YET,
  nothing else errs), the solution version runs clean (self-checks PASSED); every control of
  every course widget is moved (``REDRAW_MOVES`` times) and the figure it drives must change (new
  image, different pixels, readout changed) within ``REDRAW_LIMIT_MS`` (median of the moves, from
  the new value leaving the page to the new PNG in the DOM; see ``labdriver.redraw_timing``) except
  in ``HEAVY_WIDGET_PARTS``; a notebook whose stored outputs have a tqdm bar shows one as a
  rendered widget bar while it runs (screenshot ``progress_bar.png``); the browser console shows
  no JavaScript error; screenshots go to ``screenshots/<part>/``.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import labdriver
import nbformat
import pytest
from labdriver import COURSE, ROOT, RUN_TIMEOUT_S, SOLUTION_SUFFIX, WELCOME, course_parts

pytestmark = pytest.mark.browser

PARTS = course_parts()
OPEN_TIMEOUT_MS = 180_000  # first kernel start of a session imports torch & co.
WIDGET_TIMEOUT_MS = 180_000
REDRAW_LIMIT_MS = 1000   # a light widget's figure follows its control within a second (issue 19)
REDRAW_MOVES = 3         # each control is moved this often; the median time is judged (shared machine)
# Parts whose widgets may take longer; their times are still printed and recorded.
HEAVY_WIDGET_PARTS = {"03_cnn_heatmaps": "the CNN heatmap viewer draws a frame with its heatmap overlays"}


def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_make_lab_opens_the_course(chromium, browser_workdir, screenshots):
    """``HEADLESS=1 PORT=... make lab`` in the course itself: lists the parts, opens 00_welcome."""
    welcome = COURSE / "notebooks" / WELCOME
    assert (welcome / f"{WELCOME}.ipynb").is_file(), f"`make lab` opens notebooks/{WELCOME}/{WELCOME}.ipynb: missing"
    before = _digest(welcome)
    server = labdriver.LabServer(course=COURSE, makefile=ROOT / "Makefile",
                                 venv=Path(__import__("sys").prefix),
                                 jupyter_env=labdriver.write_jupyter_dirs(browser_workdir / "jupyter-main"),
                                 log_path=browser_workdir / "make-lab.log")
    context = None
    try:
        server.start()
        listed = {item["name"] for item in server.api("contents")["content"] if item["type"] == "directory"}
        students = {p.name for p in (COURSE / "notebooks").iterdir() if (p / f"{p.name}.ipynb").is_file()}
        assert students <= listed, f"contents API misses parts: {sorted(students - listed)}"

        context = chromium.new_context(viewport={"width": 1400, "height": 1000})
        tab = labdriver.NotebookTab(context, server, f"{WELCOME}/{WELCOME}.ipynb", workspace="main-job")
        tab.open(OPEN_TIMEOUT_MS)
        current = tab.page.locator(".lm-TabBar-tab.jp-mod-current .lm-TabBar-tabLabel").first.text_content()
        assert current == f"{WELCOME}.ipynb"
        assert tab.page.locator(f"{tab.PANEL} .jp-MarkdownCell h1").count() > 0, "00_welcome shows no title"

        # The file browser, at the course root, shows every part.
        tab.page.locator(".jp-FileBrowser .jp-BreadCrumbs-home").first.click()
        tab.page.wait_for_function(
            """names => names.every(n => Array.from(document.querySelectorAll('.jp-DirListing-itemText'))
                                          .some(e => e.textContent.trim() === n))""",
            arg=sorted(students), timeout=30_000)
        tab.screenshot(screenshots / "make_lab.png")
        assert tab.console_errors == [], "\n".join(tab.console_errors)
        _assert_student_lab(server, tab)
    finally:
        if context is not None:
            context.close()
        server.stop()
    assert _digest(welcome) == before, "opening the course in the browser changed files in notebooks/00_welcome"


@pytest.mark.parametrize("part", PARTS)
def test_notebook_in_browser(part, lab, browser_context, screenshots, browser_summary):
    """Run the student and the solution notebook in two tabs; move every widget; no JS errors."""
    folder = lab.course / "notebooks"
    paths = {"student": f"{part}/{part}.ipynb", "solution": f"{part}{SOLUTION_SUFFIX}/{part}.ipynb"}
    paths = {kind: path for kind, path in paths.items() if (folder / path).is_file()}
    shots = screenshots / part
    start = time.monotonic()

    tabs = {kind: labdriver.NotebookTab(browser_context, lab, path, workspace=f"{part}-{kind}")
            for kind, path in paths.items()}
    try:
        _run_and_move(part, folder, paths, tabs, shots, start, browser_summary)
    finally:
        for tab in tabs.values():
            tab.close()
        try:
            lab.shutdown_kernels(paths.values())
        except OSError:  # the server is gone: the session fixture reports it
            pass


def _run_and_move(part, folder, paths, tabs, shots, start, browser_summary):
    for tab in tabs.values():
        tab.open(OPEN_TIMEOUT_MS)
    for tab in tabs.values():  # both kernels work at the same time
        tab.run_all()
    problems, bar = [], None
    # A progress bar is caught while its cell runs (GIMBAL's sweep bars close when they finish).
    bar_tab = tabs.get("solution") or tabs["student"]
    source = COURSE / "solutions" / part / f"{part}.ipynb"
    if source.is_file() and labdriver.shows_progress_bar(nbformat.read(source, as_version=4)):
        shots.mkdir(parents=True, exist_ok=True)
        bar = bar_tab.capture_progress_bar(shots / "progress_bar.png", int(RUN_TIMEOUT_S * 1000))
        problems += _progress_bar_problems(bar, shots / "progress_bar.png")
    for kind, tab in tabs.items():
        tab.wait_run_finished(int(RUN_TIMEOUT_S * 1000))
        tab.save()
        tab.screenshot(shots / f"{kind}.png")
        saved = nbformat.read(folder / paths[kind], as_version=4)
        problems += [f"{kind}: {p}" for p in labdriver.run_problems(saved, student=(kind == "student"))]
        if kind == "solution":
            problems += [f"{kind}: traceback shown: {t[:300]}" for t in tab.error_outputs_in_dom()]
    seconds = time.monotonic() - start
    for kind, tab in tabs.items():
        # One output per check line, never an Out[n] echo or a line shown twice; no stderr strips.
        for i, lines in enumerate(tab.self_check_lines()):
            if len(lines) != len(set(lines)) or any(line.startswith("Out[") for line in lines):
                problems.append(f"{kind}: self-check {i} shows a line twice: {lines}")
            if not lines or any(not line.startswith(("PASSED", "NOT YET")) for line in lines):
                problems.append(f"{kind}: self-check {i} shows something other than its check lines: {lines}")
        problems += [f"{kind}: stderr strip shown: {t[:200]!r}" for t in tab.stderr_outputs()]
        word = "NOT YET" if kind == "student" else "PASSED"
        tab.screenshot_cell("# Self-check", shots / f"self_check_{word.replace(' ', '_')}.png")
    if bar is not None:
        problems += [f"the progress bar's cell shows a stderr strip: {t[:200]!r}"
                     for t in bar_tab.stderr_in_cell(bar["cell"])]
    assert not problems, f"{part} after Run All in JupyterLab:\n" + "\n".join(problems)

    # The student's widgets (the solution's are the same code): move every control.
    driver = tabs.get("student") or tabs["solution"]
    results = driver.exercise_widgets(WIDGET_TIMEOUT_MS, shots=shots, moves=REDRAW_MOVES)
    driver.screenshot(shots / "widgets.png")
    n_widgets = driver.widgets().count()
    assert len({r.widget for r in results}) == n_widgets

    redraws = labdriver.redraw_medians(results)
    for row in redraws:
        print(f"redraw {part} widget {row['widget']} {row['kind']} {row['label']!r}: median "
              f"{row['median_redraw_ms']:.0f} ms in the page, {row['median_kernel_ms']:.0f} ms in the kernel "
              f"(moves: {', '.join(f'{ms:.0f}' for ms in row['redraw_ms'])} ms)")

    errors = [f"{kind}: {e}" for kind, tab in tabs.items() for e in tab.console_errors]
    browser_summary[part] = {"widgets": n_widgets, "controls": len(redraws), "seconds": round(seconds, 1),
                             "total_s": round(time.monotonic() - start, 1), "redraws": redraws,
                             "progress_bar": bar, "moved": [vars(r) for r in results]}
    assert not errors, f"{part}: JavaScript errors in the browser console:\n" + "\n".join(errors)
    if part not in HEAVY_WIDGET_PARTS:
        slow = [f"widget {row['widget']} {row['kind']} {row['label']!r}: median {row['median_redraw_ms']:.0f} ms "
                f"(kernel {row['median_kernel_ms']:.0f} ms)" for row in redraws
                if not row["median_redraw_ms"] < REDRAW_LIMIT_MS]
        assert not slow, (f"{part}: a light widget's figure took {REDRAW_LIMIT_MS} ms or more to follow its control "
                          "(new value sent -> new PNG in the page):\n" + "\n".join(slow))


def _progress_bar_problems(bar: dict | None, shot: Path) -> list[str]:
    """A tqdm bar seen while the notebook ran: a widget bar with a fill, not stderr text."""
    if bar is None:
        return ["no progress bar with progress (a .widget-hprogress whose .progress-bar width is > 0) was seen "
                "while the notebook ran, though its stored outputs have a tqdm bar"]
    problems = []
    if not bar["widget"] or bar["mime"]:
        problems.append(f"the progress bar is not shown as an ipywidgets bar (MIME type {bar['mime']!r})")
    if not bar["width_pct"] > 0:
        problems.append(f"the progress bar's fill has width {bar['width_pct']}%")
    if bar["stderr"]:
        problems.append(f"the progress bar's cell shows {bar['stderr']} stderr strip(s) while it runs")
    if not shot.is_file() or labdriver.saturated_pixels(shot.read_bytes()) < 20:
        problems.append(f"the screenshot {shot} shows no coloured bar fill")
    return problems


def _assert_student_lab(server, tab):
    """``make lab``'s shipped settings: no news popup, no nbgrader instructor parts, Validate on."""
    import json
    import urllib.request

    request = urllib.request.Request(f"{server.base_url}/lab/api/settings/@jupyterlab/apputils-extension:notification",
                                     headers={"Authorization": f"token {server.token}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        schema = json.loads(response.read())["schema"]
    assert schema["properties"]["fetchNews"]["default"] == "false", "overrides.json: news not switched off"
    assert tab.page.get_by_text("Jupyter news").count() == 0, "the 'Get notified about Jupyter news?' popup shows"
    menus = tab.page.locator(".lm-MenuBar-itemLabel").all_text_contents()
    assert "Nbgrader" not in menus, f"the instructor-only Nbgrader menu shows: {menus}"
    assert tab.page.get_by_text("Create Assignment").count() == 0, "the Create Assignment sidebar shows"
    assert tab.page.get_by_text("Formgrader").count() == 0, "the Formgrader shows"
    validate = tab.page.locator("button:has-text('Validate'), .jp-ToolbarButtonComponent:has-text('Validate')")
    assert validate.count() > 0, \
        "the Validate button is missing from the notebook toolbar"


def _ran(source: str, *outputs, count: int | None = 1):
    from nbformat.v4 import new_code_cell

    cell = new_code_cell(source, outputs=list(outputs))
    cell.execution_count = count
    return cell


def test_run_problems_accepts_exactly_the_students_open_work():
    """The rule the browser runs are judged by (no browser needed): checked on hand-made runs."""
    from nbformat.v4 import new_notebook, new_output

    out = lambda text: new_output("stream", name="stdout", text=text)  # noqa: E731
    stub_error = new_output("error", ename="NotImplementedError", evalue="", traceback=[])
    student = new_notebook(cells=[_ran("def f(x):\n    raise NotImplementedError()"),
                                  _ran("# Self-check (2 points)\ncheck(f)", out("NOT YET f: not implemented yet\n")),
                                  _ran("f(1)  # a stub called at top level", stub_error)])
    assert labdriver.run_problems(student, student=True) == []
    as_solution = " ".join(labdriver.run_problems(student, student=False))
    assert "NotImplementedError" in as_solution and "must print PASSED only" in as_solution

    solution = new_notebook(cells=[_ran("def f(x):\n    return x"),
                                   _ran("# Self-check (2 points)\ncheck(f)", out("PASSED  f\n")),
                                   _ran("")])  # an empty cell never runs and is fine
    solution.cells[2].execution_count = None
    assert labdriver.run_problems(solution, student=False) == []
    assert "must print NOT YET" in " ".join(labdriver.run_problems(solution, student=True))

    broken = new_notebook(cells=[_ran("x = 1"), _ran("1/0", new_output("error", ename="ZeroDivisionError",
                                                                       evalue="division by zero", traceback=[])),
                                 _ran("print(x)", count=None), _ran("print('NOT YET')", out("NOT YET\n"))])
    problems = labdriver.run_problems(broken, student=True)
    assert any("ZeroDivisionError: division by zero" in p for p in problems)
    assert any("1 code cell(s) did not run" in p and "cells 2" in p for p in problems)
    assert any("cell 3" in p and "is not a self-check" in p for p in problems)


def test_run_problems_sees_displayed_check_lines_once():
    """Self-check lines are display outputs now; an Out[n] echo, a repeated line or stderr is a problem."""
    from nbformat.v4 import new_notebook, new_output

    line = lambda text: new_output("display_data", data={"text/plain": text, "text/html": f"<b>{text}</b>"})  # noqa: E731
    good = new_notebook(cells=[_ran("# Self-check (1 point)\ncheck_exercise('f', f)", line("PASSED  f: ok."))])
    assert labdriver.run_problems(good, student=False) == []
    assert "must print NOT YET" in " ".join(labdriver.run_problems(good, student=True))
    echoed = new_notebook(cells=[_ran("# Self-check (1 point)\ncheck(f)", line("PASSED  f: ok."),
                                      new_output("execute_result", data={"text/plain": "PASSED  f: ok."},
                                                 execution_count=1))])
    assert "shows its result twice" in " ".join(labdriver.run_problems(echoed, student=False))
    noisy = new_notebook(cells=[_ran("x = 1", new_output("stream", name="stderr", text="RuntimeWarning: overflow\n"))])
    assert "stderr strip" in " ".join(labdriver.run_problems(noisy, student=False))


def test_redraw_timing_splits_a_redraw_from_the_kernel_messages():
    """From a hand-made message log: the clock starts when the value leaves the page, not at the move."""
    log = [{"t": 100.0, "direction": "out", "type": "comm_msg", "date": "2026-01-01T00:00:00.100Z", "detail": "update"},
           {"t": 110.0, "direction": "in", "type": "status", "date": "2026-01-01T00:00:00.105000Z", "detail": "busy"},
           {"t": 112.0, "direction": "in", "type": "comm_msg", "date": "2026-01-01T00:00:00.106Z",
            "detail": "echo_update"},
           {"t": 520.0, "direction": "in", "type": "update_display_data", "date": "2026-01-01T00:00:00.505500Z",
            "detail": ""},
           {"t": 530.0, "direction": "in", "type": "status", "date": "2026-01-01T00:00:00.507Z", "detail": "idle"}]
    before = [{"t": 20.0, "direction": "in", "type": "status", "date": "2026-01-01T00:00:00.020Z", "detail": "busy"}]
    timing = labdriver.redraw_timing(before + log, image_t=560.0)
    assert timing == pytest.approx({"redraw_ms": 460.0, "kernel_ms": 400.5, "round_trip_ms": 420.0, "dom_ms": 40.0})
    with pytest.raises(AssertionError, match="no widget value was sent"):
        labdriver.redraw_timing(log[1:], image_t=560.0)
    with pytest.raises(AssertionError, match="update_display_data"):
        labdriver.redraw_timing(log[:3], image_t=560.0)


def test_redraw_medians_judge_each_control_by_the_median_of_its_moves():
    moves = [labdriver.ControlResult(0, "slider", "p", "0", "1", 0.1, redraw_ms=ms, kernel_ms=ms / 2)
             for ms in (300.0, 2500.0, 400.0)]
    moves.append(labdriver.ControlResult(0, "dropdown", "camera", "a", "b", 0.1, redraw_ms=1200.0, kernel_ms=900.0))
    rows = labdriver.redraw_medians(moves)
    assert [(r["label"], r["median_redraw_ms"], r["median_kernel_ms"]) for r in rows] == \
        [("p", 400.0, 200.0), ("camera", 1200.0, 900.0)]
    assert rows[0]["redraw_ms"] == [300.0, 2500.0, 400.0]


def test_progress_bar_rules_on_hand_made_outputs():
    """A stored tqdm widget is recognised; a bar's screenshot must show a coloured fill."""
    import io

    import numpy as np
    from nbformat.v4 import new_notebook, new_output
    from PIL import Image

    bar = new_output("display_data", data={"application/vnd.jupyter.widget-view+json": {"model_id": "x"},
                                           "text/plain": "Gibbs sweeps:   0%|          | 0/40 [00:00<?, ?it/s]"})
    box = new_output("display_data", data={"application/vnd.jupyter.widget-view+json": {"model_id": "y"},
                                           "text/plain": "VBox(children=(HBox(...),))"})
    assert labdriver.shows_progress_bar(new_notebook(cells=[_ran("run()", box), _ran("sample()", bar)]))
    assert not labdriver.shows_progress_bar(new_notebook(cells=[_ran("run()", box)]))

    def png(pixels):
        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, format="PNG")
        return buffer.getvalue()

    grey = np.full((20, 100, 3), 235, np.uint8)
    filled = grey.copy()
    filled[5:15, :40] = (25, 118, 210)   # JupyterLab's brand blue
    assert labdriver.saturated_pixels(png(grey)) == 0
    assert labdriver.saturated_pixels(png(filled)) == 400
