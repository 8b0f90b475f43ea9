"""Fanning grading jobs out with dask.distributed: a LocalCluster, or an existing cluster.

This is the kit's only parallel path. On one machine :func:`connect` starts a
``LocalCluster`` (process workers, one thread each, as many as cores, each with
a share of the memory); with a scheduler address it joins an existing cluster
(Slurm via dask-jobqueue, Kubernetes via dask-kubernetes, JupyterHub via Dask
Gateway: see autograder/README.md). Before any job runs, every worker must run
the same kit as the driver (:func:`check_workers`).

Faults: when a worker dies mid-job the scheduler runs the job again on another
worker (up to ``distributed.scheduler.allowed-failures`` deaths); a job that
raises is retried ``retries`` times; a job that fails every try comes back as
its exception, so the batch always finishes. Each job's result arrives exactly
once.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterable, Iterator

from tapelab.grading.jobs import JobResult, JobSpec, grade_job, record_assignment
from tapelab.grading.provenance import check_same_kit, kit_fingerprint

#: seconds to wait for a scheduler before giving up (the error comes well within 10 s).
CONNECT_TIMEOUT_S = 5

#: Dask settings of the kit's local workers (recommended for a cluster's grading workers too).
WORKER_CONFIG = {"distributed.worker.profile.enabled": False}


class SchedulerUnreachable(ConnectionError):
    """No Dask scheduler answered at the given address."""


@contextlib.contextmanager
def connect(scheduler: str | None = None, *, workers: int | None = None,
            memory_limit: str = "auto") -> Iterator["distributed.Client"]:  # noqa: F821
    """A dask Client: to `scheduler` when given, else to a fresh LocalCluster of `workers` processes.

    Raises :class:`SchedulerUnreachable` within :data:`CONNECT_TIMEOUT_S` seconds (plus a
    moment) when nothing answers at `scheduler`.
    """
    import dask
    from distributed import Client, LocalCluster

    if scheduler:
        try:
            with dask.config.set({"distributed.comm.timeouts.connect": f"{CONNECT_TIMEOUT_S}s"}):
                client = Client(scheduler, timeout=f"{CONNECT_TIMEOUT_S}s", set_as_default=False)
        except (OSError, TimeoutError) as err:
            raise SchedulerUnreachable(
                f"could not reach the Dask scheduler at {scheduler} within {CONNECT_TIMEOUT_S} s "
                f"({type(err).__name__}): check that `dask scheduler` runs there and that this machine "
                "can open its port; nothing was graded or written."
            ) from None
        try:
            yield client
        finally:
            client.close()
        return
    n = workers or os.cpu_count() or 1
    # A grading job is one blocking call of seconds to minutes: Dask's statistical profiler,
    # sampling each worker every 10 ms, would only take CPU from the kernels (about 2% here).
    with dask.config.set(WORKER_CONFIG):
        cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, memory_limit=memory_limit,
                               dashboard_address=":0", silence_logs=logging.ERROR)
    client = Client(cluster, set_as_default=False)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


def _has_dashboard() -> bool:
    try:
        import bokeh  # noqa: F401
    except ImportError:
        return False
    return True


def dashboard(client) -> str | None:
    """The Dask dashboard's address, when the scheduler serves one (it needs bokeh there)."""
    services = client.scheduler_info().get("services", {})
    if "dashboard" not in services or not client.run_on_scheduler(_has_dashboard):
        return None
    return client.dashboard_link


def check_workers(client, driver: dict[str, str] | None = None, *, wait_s: float = 60) -> int:
    """Refuse (VersionMismatch) unless every worker runs the driver's kit; the number of workers."""
    driver = driver or kit_fingerprint()
    client.wait_for_workers(1, timeout=wait_s)
    found = client.run(kit_fingerprint)
    for address, fingerprint in sorted(found.items()):
        check_same_kit(driver, fingerprint, address)
    return len(found)


def record_assignments(client, sources: dict[str, dict[str, bytes]], config: dict) -> dict[str, bytes]:
    """assignment -> a gradebook recording it, each made once on some worker."""
    futures = {name: client.submit(record_assignment, name, files, config, pure=False, retries=1,
                                   key=f"record-{name}-{os.urandom(4).hex()}")
               for name, files in sources.items()}
    return {name: future.result() for name, future in futures.items()}


def run_jobs(client, specs: Iterable[JobSpec], *, retries: int = 1) -> Iterator[tuple[JobSpec, JobResult | BaseException]]:
    """Grade `specs` on the cluster; yield (spec, result or the exception of its last try) as each ends."""
    from distributed import as_completed

    futures = {}
    for spec in specs:
        key = f"grade-{spec.student}-{spec.assignment}-{spec.key[:16]}"
        futures[client.submit(grade_job, spec, key=key, retries=retries, pure=False)] = spec
    for future in as_completed(futures, loop=client.loop):
        spec = futures[future]
        try:
            yield spec, future.result()
        except Exception as err:  # KilledWorker, VersionMismatch, anything a job raised on every try
            yield spec, err
        finally:
            future.release()
