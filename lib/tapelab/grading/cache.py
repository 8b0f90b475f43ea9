"""Results already graded, by job key: a rerun grades only what changed.

A job's key (:attr:`tapelab.grading.jobs.JobSpec.key`) hashes the submitted files,
the assignment's source, the grading config, the limits and the kit's version,
so a cached result is reused exactly when grading again would give the same.
Results of jobs that failed are not kept: they are tried again next time.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path

from tapelab.grading.jobs import FAILED, JobResult


def path_of(folder: Path, key: str) -> Path:
    return Path(folder) / f"{key}.pickle"


def load(folder: Path, key: str) -> JobResult | None:
    """The cached result for `key`, or None (also for an unreadable file)."""
    path = path_of(folder, key)
    try:
        with path.open("rb") as f:
            result = pickle.load(f)
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError):
        return None
    return result if isinstance(result, JobResult) and result.key == key else None


def save(folder: Path, result: JobResult) -> bool:
    """Keep `result` unless its job failed; written atomically. Whether it was kept."""
    if result.status == FAILED or not result.key:
        return False
    folder.mkdir(parents=True, exist_ok=True)
    tmp = path_of(folder, result.key).with_suffix(f".{os.getpid()}.tmp")
    with tmp.open("wb") as f:
        pickle.dump(result, f, protocol=pickle.HIGHEST_PROTOCOL)
    tmp.replace(path_of(folder, result.key))
    return True
