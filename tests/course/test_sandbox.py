"""The grading sandbox: the bwrap command line, the probe, and a hostile submission graded for real.

The attack test grades, with the real nbgrader and the real bwrap, a class of two: alice (the
full solution) and eve, whose notebook tries to read the solutions, the gradebook and alice's
submission, to write to them, to look at the grader's processes, to reach the network and to
plant files. Every attempt must be denied, eve's feedback must hold none of it and alice's
grade and files must not change.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell

from lecturekit.course import grading, sandbox
from lecturekit.course.sandbox import bwrap_argv, kernel_env, sandbox_available

AVAILABLE, WHY_NOT = sandbox_available()
needs_bwrap = pytest.mark.skipif(not AVAILABLE, reason=f"grading sandbox unavailable: {WHY_NOT}")


# ---------------------------------------------------------------------------------- argv
def test_bwrap_argv_isolates_and_binds_exactly_what_it_is_given():
    argv = bwrap_argv(["python", "-c", "1"], writable=["/w/sub"], readonly=["/venv"], cwd="/w/sub",
                      env={"PATH": "/usr/bin"}, bwrap="/usr/bin/bwrap")
    assert argv[0] == "/usr/bin/bwrap"
    for flag in ("--unshare-all", "--die-with-parent", "--new-session", "--clearenv"):
        assert flag in argv
    sep = argv.index("--")
    assert argv[sep + 1:] == ["python", "-c", "1"]
    opts = argv[:sep]
    pairs = [tuple(opts[i:i + 3]) for i in range(len(opts) - 2)]
    assert ("--bind", "/w/sub", "/w/sub") in pairs
    assert ("--ro-bind-try", "/venv", "/venv") in pairs
    assert ("--setenv", "PATH", "/usr/bin") in pairs
    assert ("--proc", "/proc", "--dev") in pairs
    assert opts[opts.index("--chdir") + 1] == "/w/sub"
    assert "/venv" not in [opts[i + 1] for i, o in enumerate(opts) if o == "--bind"]  # never writable
    with pytest.raises(ValueError, match="command"):
        bwrap_argv([], writable=[], readonly=[], cwd="/", env={})


def test_kernel_env_drops_everything_not_listed():
    env = kernel_env({"PATH": "/usr/bin", "AWS_SECRET_ACCESS_KEY": "x", "GITHUB_TOKEN": "y", "LANG": "C.UTF-8",
                      "HOME": "/home/prof"})
    assert "AWS_SECRET_ACCESS_KEY" not in env and "GITHUB_TOKEN" not in env
    assert env["LECTUREKIT_CACHE"] == "/home/prof/.cache/lecturekit"  # the read-only cache, not /tmp's
    assert env["LANG"] == "C.UTF-8" and env["HOME"] == "/tmp" and env["PATH"].endswith("/usr/bin")


def test_drop_links_removes_links_and_keeps_files(tmp_path):
    (tmp_path / "secret").write_text("s")
    folder = tmp_path / "student"
    folder.mkdir()
    (folder / "answer.txt").write_text("a")
    (folder / "leak").symlink_to(tmp_path / "secret")
    (folder / "dirlink").symlink_to(tmp_path)
    os.mkfifo(folder / "pipe")
    removed = grading.drop_links(folder)
    assert sorted(Path(p).name for p in removed) == ["dirlink", "leak", "pipe"]
    assert sorted(p.name for p in folder.iterdir()) == ["answer.txt"]
    assert (tmp_path / "secret").read_text() == "s"


@needs_bwrap
def test_sandboxed_command_sees_only_its_folder(tmp_path):
    mine, theirs = tmp_path / "mine", tmp_path / "theirs"
    mine.mkdir()
    theirs.mkdir()
    (theirs / "secret.txt").write_text("secret")
    script = ("import os, socket, json\nout = {}\n"
              f"out['theirs'] = os.path.exists({str(theirs / 'secret.txt')!r})\n"
              f"out['grader'] = os.path.exists('/proc/{os.getpid()}/cwd') and "
              f"os.readlink('/proc/{os.getpid()}/cwd') == {os.getcwd()!r}\n"
              "try:\n    socket.create_connection(('1.1.1.1', 53), timeout=2); out['net'] = True\n"
              "except OSError:\n    out['net'] = False\n"
              "open('written.txt', 'w').write('ok')\nprint(json.dumps(out))\n")
    argv = bwrap_argv([os.sys.executable, "-c", script], writable=[mine], readonly=sandbox.readonly_paths(),
                      cwd=mine, env=kernel_env())
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"theirs": False, "grader": False, "net": False}
    assert (mine / "written.txt").read_text() == "ok"


@needs_bwrap
def test_sandboxed_kernel_finds_the_data_cache_read_only(tmp_path, monkeypatch):
    from lecturekit.datasets import cache_dir

    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "data.npz").write_text("cached")
    monkeypatch.setenv("LECTUREKIT_CACHE", str(cache))
    mine = tmp_path / "mine"
    mine.mkdir()
    script = ("from lecturekit.datasets import cache_dir\nd = cache_dir()\nprint((d / 'data.npz').read_text())\n"
              "try:\n    (d / 'x').write_text('x')\nexcept OSError:\n    print('read-only')\n")
    assert cache_dir() == cache
    argv = bwrap_argv([os.sys.executable, "-c", script], writable=[mine], readonly=sandbox.readonly_paths(),
                      cwd=mine, env=kernel_env())
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert done.stdout.split() == ["cached", "read-only"], done.stderr


# ------------------------------------------------------------------------- real grading
ATTACK = '''import glob, json, os, socket
COURSE, GRADER = {course!r}, {grader}
found = {{}}
def attempt(name, fn):
    try:
        found[name] = "ALLOW" + "ED " + repr(fn())[:300]  # the word appears only in outputs
    except Exception as error:
        found[name] = "denied " + type(error).__name__
attempt("read solution", lambda: open(COURSE + "/solutions/90_fake/90_fake.ipynb").read())
attempt("read gradebook", lambda: open(COURSE + "/gradebook.db", "rb").read(200))
attempt("read classmate", lambda: open(COURSE + "/submitted/alice/90_fake/90_fake.ipynb").read())
attempt("write classmate", lambda: open(COURSE + "/submitted/alice/90_fake/90_fake.ipynb", "a").write(" "))
attempt("plant in classmate feedback", lambda: open(COURSE + "/feedback/alice/90_fake/planted.html", "w").write("x"))
attempt("plant in course", lambda: open(COURSE + "/planted.txt", "w").write("x"))
attempt("grader cwd", lambda: os.readlink(f"/proc/{{GRADER}}/cwd"))
attempt("parent cwd", lambda: os.readlink(f"/proc/{{os.getppid()}}/cwd") if os.getppid() > 1 else 1 / 0)
attempt("worker gradebook", lambda: glob.glob("/tmp/**/gradebook*.db", recursive=True) or 1 / 0)
attempt("network", lambda: socket.create_connection(("1.1.1.1", 53), timeout=2))
os.symlink(COURSE + "/gradebook.db", "leak.db")  # allowed in its own folder, must not be followed later
os.symlink("../../../gradebook.db", "leak_work.db")
print("ATTEMPTS " + json.dumps(found))
'''


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.slow
@needs_bwrap
def test_hostile_submission_is_contained(tmp_path):
    import test_grading as tg  # the fake part and its helpers

    course = tg.make_course(tmp_path / "course", {tg.FAKE: tg.fake_solution()})
    released = nbformat.read(course / "notebooks" / tg.FAKE / f"{tg.FAKE}.ipynb", as_version=4)
    solution = nbformat.read(course / "solutions" / tg.FAKE / f"{tg.FAKE}.ipynb", as_version=4)
    inbox = tmp_path / "inbox"
    tg.write(tg.answered(released, solution), inbox / f"alice_{tg.FAKE}.ipynb")
    eve = tg.answered(released, solution)
    eve.cells.insert(2, new_code_cell(ATTACK.format(course=str(course), grader=os.getpid())))
    tg.write(eve, inbox / f"eve_{tg.FAKE}.ipynb")
    grading.collect(inbox, course, part=tg.FAKE)
    grading.grade(course, tg.FAKE, workers=2, cell_timeout=20, students=["alice"])
    alice_nb = course / "submitted" / "alice" / tg.FAKE / f"{tg.FAKE}.ipynb"
    alice_before = _sha(alice_nb), tg.rows(course, tg.FAKE)["alice"]
    alice_feedback = sorted(p.name for p in (course / "feedback" / "alice" / tg.FAKE).iterdir())

    results = {r.student: r for r in grading.grade(course, tg.FAKE, workers=2, cell_timeout=20, students=["eve"])}
    assert results["eve"].status == "graded", results["eve"]
    assert "not isolated" not in results["eve"].reason
    graded = nbformat.read(course / "autograded" / "eve" / tg.FAKE / f"{tg.FAKE}.ipynb", as_version=4)
    text = "".join(o.get("text", "") for c in graded.cells if c.cell_type == "code" for o in c.outputs)
    attempts = json.loads(text.split("ATTEMPTS ", 1)[1].splitlines()[0])
    assert len(attempts) == 10
    assert all(v.startswith("denied") for v in attempts.values()), attempts

    page = (course / "feedback" / "eve" / tg.FAKE / f"{tg.FAKE}.html").read_text()
    assert "SQLite format 3" not in page and "Because $x^2" not in page and "ALLOWED" not in page
    for folder in (course / "feedback" / "eve" / tg.FAKE, course / "autograded" / "eve" / tg.FAKE):
        names = {p.name for p in folder.iterdir()}
        assert not names & {"leak.db", "leak_work.db"}, names
        assert not any(p.is_symlink() for p in folder.rglob("*"))
    assert not (course / "planted.txt").exists()
    assert (_sha(alice_nb), tg.rows(course, tg.FAKE)["alice"]) == alice_before
    assert sorted(p.name for p in (course / "feedback" / "alice" / tg.FAKE).iterdir()) == alice_feedback
    full = sum(tg.check_points(solution).values())
    assert float(alice_before[1]["score"]) == full and float(tg.rows(course, tg.FAKE)["eve"]["score"]) == full


@pytest.mark.slow
def test_without_the_sandbox_rows_say_not_isolated_or_grading_refuses(tmp_path, monkeypatch):
    import test_grading as tg

    course = tg.make_course(tmp_path / "course", {tg.FAKE: tg.fake_solution()})
    released = nbformat.read(course / "notebooks" / tg.FAKE / f"{tg.FAKE}.ipynb", as_version=4)
    solution = nbformat.read(course / "solutions" / tg.FAKE / f"{tg.FAKE}.ipynb", as_version=4)
    tg.write(tg.answered(released, solution), tmp_path / "inbox" / f"alice_{tg.FAKE}.ipynb")
    grading.collect(tmp_path / "inbox", course, part=tg.FAKE)
    monkeypatch.setattr(sandbox, "sandbox_available", lambda: (False, "bwrap is not installed"))
    with pytest.raises(grading.GradingError, match="sandbox is not available"):
        grading.grade(course, tg.FAKE, cell_timeout=20, require_sandbox=True)
    assert not (course / "grading" / tg.FAKE / "grades.csv").exists()
    results = grading.grade(course, tg.FAKE, cell_timeout=20)
    assert [r.status for r in results] == ["graded"]
    assert "not isolated (bwrap is not installed)" in results[0].reason
    assert "not isolated" in tg.rows(course, tg.FAKE)["alice"]["reason"]
    assert float(results[0].score) == sum(tg.check_points(solution).values())
