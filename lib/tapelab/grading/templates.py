"""The feedback HTML exporter, its jinja templates compiled once per process.

nbconvert builds a new jinja environment for every exporter, so each job's feedback HTML
would parse and compile the same templates again (about 0.07 s per notebook).
:class:`FeedbackExporter` is nbconvert's ``HTMLExporter`` whose jinja environment keeps the
compiled templates in :data:`COMPILED`, shared by every exporter of the process and
inherited by each grading process the zygote forks. jinja reuses a compiled template only
while its source is unchanged (it compares a checksum), so the HTML is the same as without it.

The grading runner selects it with nbgrader's ``GenerateFeedback.exporter_class`` setting;
it reads the ``HTMLExporter`` section of the config (the feedback template) as HTMLExporter does.
"""

from __future__ import annotations

import jinja2
from nbconvert.exporters import HTMLExporter


class CompiledTemplates(jinja2.BytecodeCache):
    """A jinja bytecode cache in memory: compiled templates by name and checksum; ``clear()`` empties it."""

    def __init__(self) -> None:
        self.store: dict[str, bytes] = {}

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        if bucket.key in self.store:
            bucket.bytecode_from_string(self.store[bucket.key])

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        self.store[bucket.key] = bucket.bytecode_to_string()

    def clear(self) -> None:
        self.store.clear()


#: the compiled templates of this process.
COMPILED = CompiledTemplates()


class FeedbackExporter(HTMLExporter):
    """nbconvert's HTMLExporter with its templates compiled once per process (:data:`COMPILED`)."""

    @property
    def environment(self) -> jinja2.Environment:
        env = super().environment
        env.bytecode_cache = COMPILED
        return env
