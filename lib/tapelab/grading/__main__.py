"""``python -m tapelab.grading [--course DIR] SUBMISSIONS``: grade a class (see :mod:`tapelab.grading.cli`)."""

import sys

from tapelab.grading.cli import main

sys.exit(main())
