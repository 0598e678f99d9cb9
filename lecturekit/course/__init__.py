"""Instructor machinery (not a lecture part): release, run, collect, grade, export.

* ``release``: annotate ``solutions/`` with nbgrader metadata and generate ``notebooks/``.
* ``notebook_run``: execute a notebook (``lecturekit execute``).
* ``submissions``: read an LMS export into ``submitted/`` (``lecturekit collect``).
* ``grading``: autograde a class, each student isolated; feedback and gradebook (``lecturekit grade``).
* ``export``: student notebooks as HTML / PDF, offline.
* ``netguard``: refuse network connections (tests and kernels run offline).
* ``cli``: the one ``lecturekit`` command.

Lecture code never imports this package (``tests/course/test_layout.py`` checks it).
"""
