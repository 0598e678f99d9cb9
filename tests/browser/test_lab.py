"""The course in a real browser: the README's ``make lab``, JupyterLab, ipywidgets, Chromium.

* ``test_make_lab_opens_the_course``: the main job. The README's command, in the repository
  itself, starts; the contents API and JupyterLab's file browser list the parts; ``00_welcome``
  opens and its kernel starts. Nothing is run or saved, and the test checks that no file of
  ``notebooks/00_welcome`` changed.
* ``test_notebook_in_browser[<part>]``: for each part, the student notebook and the solution
  notebook are opened in two tabs of one server (copies), Run All is clicked in both, and then:
  the student version fails exactly where a student has work to do (self-checks print NOT YET,
  nothing else errs), the solution version runs clean (self-checks PASSED); every control of
  every course widget is moved and the figure it drives must change (new image, different
  pixels, readout changed); the browser console shows no JavaScript error; screenshots go to
  ``screenshots/<part>/``.
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
    problems = []
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
        tab.screenshot_cell("", shots / "progress_bar.png", css=".jp-CodeCell:has(.widget-progress)")
    assert not problems, f"{part} after Run All in JupyterLab:\n" + "\n".join(problems)

    # The student's widgets (the solution's are the same code): move every control.
    driver = tabs.get("student") or tabs["solution"]
    results = driver.exercise_widgets(WIDGET_TIMEOUT_MS, shots=shots)
    driver.screenshot(shots / "widgets.png")
    n_widgets = driver.widgets().count()
    assert len({r.widget for r in results}) == n_widgets

    for r in results:
        print(f"redraw {part} widget {r.widget} {r.kind} {r.label!r}: {r.redraw_ms:.0f} ms")

    errors = [f"{kind}: {e}" for kind, tab in tabs.items() for e in tab.console_errors]
    browser_summary[part] = {"widgets": n_widgets, "controls": len(results), "seconds": round(seconds, 1),
                             "total_s": round(time.monotonic() - start, 1),
                             "moved": [vars(r) for r in results]}
    assert not errors, f"{part}: JavaScript errors in the browser console:\n" + "\n".join(errors)


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
