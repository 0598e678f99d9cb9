"""nbgrader configuration of the course: folder names fixed by the course's design.

`solutions/` is the instructors' source, `notebooks/` the released student notebooks.
Submissions, autograded copies, feedback and the gradebook live in git-ignored folders.
"""
import os

c = get_config()  # noqa: F821  (provided by nbgrader when it loads this file)

c.CourseDirectory.course_id = "markerless-pose-tracking"
c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "notebooks"
c.CourseDirectory.submitted_directory = "submitted"
c.CourseDirectory.autograded_directory = "autograded"
c.CourseDirectory.feedback_directory = "feedback"
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", ".*"]

# Student stubs: every exercise ends in NotImplementedError, which the self-checks recognise.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# Both timeouts: nbgrader's own (Execute) and nbconvert's (ExecutePreprocessor) - per cell, seconds.
c.Execute.timeout = int(os.environ.get("LECTUREKIT_CELL_TIMEOUT", "300"))
c.ExecutePreprocessor.timeout = int(os.environ.get("LECTUREKIT_CELL_TIMEOUT", "300"))

# A deleted grade cell is put back from the source; an edited one is overwritten by it.
c.OverwriteCells.add_missing_cells = True
