"""New gradebooks stamped with nbgrader's schema revision, read in this process.

When nbgrader's ``Gradebook`` opens a database without tables, it creates them and stamps
the head revision of its alembic migrations, which it asks a child process for
(``alembic heads``): a new Python that imports alembic, SQLAlchemy and nbgrader, 2-5 s of
CPU for every gradebook created. Grading creates one per assignment and one for the course.
The head depends only on the installed nbgrader, so :func:`alembic_head` reads it from
nbgrader's migration scripts with alembic's own API, once per process, and
:func:`create_gradebook` stamps a new gradebook file with it before nbgrader opens it.
nbgrader then finds a database it knows (one with tables) and only adds its own tables, as
for any existing gradebook: the file ends up as nbgrader would have made it.
"""

from __future__ import annotations

import functools
import sqlite3
from pathlib import Path


@functools.cache
def alembic_head() -> str:
    """The head revision of nbgrader's gradebook migrations (what ``alembic heads`` prints first)."""
    from alembic.script import ScriptDirectory
    from nbgrader.dbutil import ALEMBIC_DIR

    heads = ScriptDirectory(ALEMBIC_DIR).get_heads()
    if len(heads) != 1:
        raise RuntimeError(f"nbgrader's gradebook migrations have {len(heads)} heads, expected one: {heads}")
    return heads[0]


def create_gradebook(path: Path) -> bool:
    """Stamp a gradebook at `path` that does not exist yet with :func:`alembic_head`; whether it did.

    The table and the row are the ones nbgrader's ``Gradebook`` writes for a new database. Where
    the revision cannot be read here, nothing is created and nbgrader keeps its own way.
    """
    path = Path(path)
    if path.exists() and path.stat().st_size > 0:
        return False
    try:
        head = alembic_head()
    except Exception:  # noqa: BLE001 - a speed-up only: nbgrader's `alembic heads` still works
        return False
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL);")
        db.execute("INSERT INTO alembic_version (version_num) VALUES (?);", (head,))
    db.close()
    return True
