"""tapelab: the reference library of the tapelab course.

Importing ``tapelab`` is cheap (TensorFlow is imported by the submodules that need it) and
changes nothing in the process. The environment TensorFlow should start with (quiet, no
oneDNN reordering) is :data:`tapelab.environment.TENSORFLOW`; the kernel spec, the grader
and the lab scripts set it, and a script calls :func:`tapelab.environment.apply` before
``import tensorflow``.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
