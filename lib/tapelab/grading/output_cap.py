"""In a graded kernel: each cell's printed output stops at a cap, inside the kernel.

The grader keeps at most ``Limits.output_mb`` of output per cell
(:meth:`tapelab.grading.budget.BudgetedExecute.process_message`), but that cut is made where the
output arrives. A cell that prints in a loop writes faster than the grader reads, and
ipykernel buffers what it has not sent yet, so the kernel's memory grows with the flood until
the memory watchdog stops the whole kernel, and the later cells lose their points with it.
How far it grows depends on how fast the grading machine reads: a grade would depend on
the machine.

This IPython extension stops the flood where it starts. Before each cell it resets a count of
the characters written to ``sys.stdout`` and ``sys.stderr``; past the cap a write is dropped
(after one line saying so), so a flooding cell costs its CPU budget only and the next cell runs
as usual. The provisioner loads it with ``--IPKernelApp.extra_extensions`` and passes the cap in
``TAPELAB_OUTPUT_BYTES`` (:class:`tapelab.grading.kernel.SandboxProvisioner`).
"""

from __future__ import annotations

import os
import sys
from typing import Any, Callable

from tapelab.grading.limits import output_truncated

#: the environment variable that carries the cap, in characters per cell.
CAP_VARIABLE = "TAPELAB_OUTPUT_BYTES"


class CellOutputCap:
    """Counts the characters a cell writes to the kernel's stdout and stderr, and drops those past `cap`."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.written = 0

    def reset(self, *_: Any) -> None:
        """A new cell: nothing written yet."""
        self.written = 0

    def wrap(self, stream: Any) -> None:
        """Route `stream`'s writes through the count (an attribute of this stream object only)."""
        write: Callable[[str], Any] = stream.write

        def capped_write(text: str) -> int:
            before = self.written
            self.written += len(text)
            if self.written <= self.cap:
                return write(text)
            if before <= self.cap:  # the first write past the cap says so, once per cell
                keep = max(0, self.cap - before)
                write(text[:keep] + output_truncated(self.cap))
            return len(text)

        stream.write = capped_write


def load_ipython_extension(shell: Any) -> None:
    """Cap ``sys.stdout`` and ``sys.stderr`` per cell at ``$TAPELAB_OUTPUT_BYTES`` characters."""
    cap = int(os.environ.get(CAP_VARIABLE, "0") or 0)
    if cap <= 0:
        return
    counter = CellOutputCap(cap)
    for stream in (sys.stdout, sys.stderr):
        counter.wrap(stream)
    shell.events.register("pre_execute", counter.reset)
