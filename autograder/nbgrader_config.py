"""nbgrader configuration of the tapelab course.

nbgrader reads this file when a command runs from this folder::

    cd autograder
    nbgrader generate_assignment 01_gradient_tape --force   # solutions/ -> course/
    nbgrader autograde 01_gradient_tape                     # autograder/submitted -> autograder/autograded
    nbgrader generate_feedback 01_gradient_tape             # -> autograder/feedback

`python autograder/release.py` (``make release``) regenerates the whole of
course/ with this configuration and normalises it so that regeneration is
byte-identical; it uses a throwaway gradebook. ``nbgrader autograde`` needs the
assignments recorded in the course gradebook: ``nbgrader generate_assignment``
run from here records them, and so does ``python autograder/release.py --gradebook``.

Layout (all paths relative to the repository root, found from this file):

- ``solutions/<assignment>/<notebook>.ipynb``  instructor notebooks (the source)
- ``course/<assignment>/<notebook>.ipynb``     student notebooks (generated)
- ``autograder/submitted|autograded|feedback/<student>/<assignment>/``  grading folders
- ``autograder/gradebook.db``                  the course gradebook
"""

import os

# The assignments are the folders of solutions/ (one notebook each, in teaching order by name):
# a new one needs no change here, in release.py, the grader or the tests.

#: The repository root: this file lives in <root>/autograder/.
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

c = get_config()  # noqa: F821 (provided by traitlets when nbgrader loads this file)

c.CourseDirectory.course_id = "tapelab"
c.CourseDirectory.root = REPO_ROOT
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "course"
c.CourseDirectory.submitted_directory = os.path.join("autograder", "submitted")
c.CourseDirectory.autograded_directory = os.path.join("autograder", "autograded")
c.CourseDirectory.feedback_directory = os.path.join("autograder", "feedback")
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(REPO_ROOT, "autograder", "gradebook.db")
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", ".DS_Store"]

# What a student finds in place of each solution region.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# What a graded kernel may use (tapelab.grading.limits.Limits; make grade, make demo and the
# tests read them here). Time is CPU seconds of the kernel and every process it starts, so a
# grade does not depend on how busy the grading machine is. No correct graded cell of the course
# comes near half a minute of CPU (the slowest take a second or two; the training runs are
# demonstrations, not run when grading), and an endless loop costs no more than 30 s; a heavier
# test cell can get more with `"tapelab": {"cpu_seconds": N}` in its metadata in solutions/. A cell
# past its budget is interrupted; a kernel past memory_mb of resident memory is stopped.
c.Limits.cpu_seconds_per_cell = 30
c.Limits.cpu_seconds_per_notebook = 600
c.Limits.wall_factor = 5  # a cell that waits or sleeps is stopped after 5 x its CPU budget
c.Limits.memory_mb = 2048

# Plain nbgrader (validate, autograde by hand) counts wall-clock time only: the same backstop.
c.Execute.timeout = int(c.Limits.wall_factor * c.Limits.cpu_seconds_per_cell)
c.Execute.kernel_name = "python3"

# Feedback shows each test's result and message, not the hidden tests' code or tracebacks
# (c.HideHiddenTests.enabled = False shows them); the autograded notebook keeps everything.
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "tapelab.grading.hidden_tests.HideHiddenTests",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]
