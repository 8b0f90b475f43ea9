"""tapelab: the reference library of the tapelab course.

Importing ``tapelab`` is cheap (TensorFlow is imported by the submodules that
need it) and quiets TensorFlow's start-up logging for the whole session, as
long as it happens before ``import tensorflow``.
"""

from __future__ import annotations

import os

__version__ = "0.1.0"

# Quiet TensorFlow before it is first imported: no oneDNN / CPU-feature banners.
# oneDNN's reordered float arithmetic is also turned off, so that runs repeat
# bit for bit under the same seed.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

__all__ = ["__version__"]
