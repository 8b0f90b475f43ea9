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

#: The assignments of the course, in teaching order (one notebook each).
ASSIGNMENTS = ["01_gradient_tape", "02_chain_rule", "03_jacobians", "04_qlearner"]

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

# Executing a notebook (validate, autograde): no cell of the course needs more than a minute.
c.Execute.timeout = 120
c.Execute.kernel_name = "python3"

# Feedback shows each test's result and message, not the hidden tests' code or tracebacks
# (c.HideHiddenTests.enabled = False shows them); the autograded notebook keeps everything.
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "tapelab.grading.hidden_tests.HideHiddenTests",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]
