"""How many CPU threads a job's numerical libraries may use: one setting, ``SHOPSENSE_THREADS``.

Left alone, OpenMP (scikit-learn's gradient boosting, ``implicit``), the BLAS behind numpy / scipy and
PyTorch each start one thread per core they see. On a machine shared with the shop (or with another job)
those threads spin against each other: ``plan_restock`` once burned 14.5 CPU-minutes for 1.5 minutes of
work. Every CPU-heavy job of the three apps — recommender training, the pricing elasticity fit, the
profile build (K-means, BG/NBD) and the demand forecasts — runs inside :func:`limited_threads`, which caps
all of them at :func:`job_threads` for the duration of the job and restores them afterwards; the
management commands and the Celery worker processes also call :func:`limit_process_threads` at start,
which sets the same cap for the whole process (and, through the environment, for the processes it starts).

The setting (a Django setting, defaulting to the ``SHOPSENSE_THREADS`` environment variable): a whole
number of threads, or unset / 0 for :data:`DEFAULT_THREADS` (capped at the CPUs this process may use).
A job made of independent fits (the forecaster's backtests) runs them in :func:`job_processes` worker
processes of one thread each: the same setting when it is set, else up to :data:`DEFAULT_PROCESSES`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

#: Threads per job when nothing is configured. One: measured on the demo data on 2 shared cores, the GBM fit
#: took 40 s with one thread and 197 s with two, the MLP 34 s and 172 s (bench/RESULTS.md, "plan_restock").
DEFAULT_THREADS = 1

#: Worker processes of one thread each for a job made of independent fits (the forecaster's), when nothing is
#: configured: a one-thread process never spins on a barrier, so two share two cores (or the cores with other
#: work) without the thrashing of two threads per library; capped at the CPUs this process may use.
DEFAULT_PROCESSES = 2

#: Environment variables the native libraries read when they start (so worker processes a job starts, e.g.
#: the forecaster's loky workers, begin with the cap too).
THREAD_ENV_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS",
                   "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")

_process_limits: Any = None  # the threadpoolctl limiter of limit_process_threads (kept alive on purpose)


def available_cpus() -> int:
    """CPUs this process may run on (its affinity mask where the platform has one)."""
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except AttributeError:  # macOS, Windows
        return max(os.cpu_count() or 1, 1)


def job_threads() -> int:
    """``settings.SHOPSENSE_THREADS`` (else the environment variable), or the default: a positive integer."""
    raw = getattr(settings, "SHOPSENSE_THREADS", None)
    if raw in (None, "", 0):
        raw = os.environ.get("SHOPSENSE_THREADS", "")
    try:
        value = int(raw or 0)
    except (TypeError, ValueError) as exc:
        raise ImproperlyConfigured(f"SHOPSENSE_THREADS must be a whole number of threads, not {raw!r}.") from exc
    if value < 0:
        raise ImproperlyConfigured(f"SHOPSENSE_THREADS must not be negative, got {value}.")
    return value or min(DEFAULT_THREADS, available_cpus())


def job_processes() -> int:
    """How many one-thread worker processes a job of independent fits may run at once: ``SHOPSENSE_THREADS``
    when it is set, else :data:`DEFAULT_PROCESSES` capped at :func:`available_cpus`."""
    raw = getattr(settings, "SHOPSENSE_THREADS", None) or os.environ.get("SHOPSENSE_THREADS", "")
    if raw not in (None, "", 0, "0"):
        return job_threads()
    return min(DEFAULT_PROCESSES, available_cpus())


@contextmanager
def limited_threads(threads: int | None = None) -> Iterator[int]:
    """Cap OpenMP, BLAS, PyTorch (when imported or importable) and numba (when imported) at ``threads``
    (default :func:`job_threads`) inside the block; the previous limits come back afterwards."""
    from threadpoolctl import threadpool_limits

    n = threads or job_threads()
    torch = _torch()
    numba = sys.modules.get("numba")
    previous_torch = torch.get_num_threads() if torch is not None else None
    previous_numba = numba.get_num_threads() if numba is not None else None
    with threadpool_limits(limits=n):
        if torch is not None:
            torch.set_num_threads(n)
        if numba is not None:
            numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))
        try:
            yield n
        finally:
            if torch is not None and previous_torch is not None:
                torch.set_num_threads(previous_torch)
            if numba is not None and previous_numba is not None:
                numba.set_num_threads(previous_numba)


def limit_process_threads(threads: int | None = None) -> int:
    """Cap this whole process at ``threads`` (default :func:`job_threads`) from now on: the environment
    variables of :data:`THREAD_ENV_VARS` (read by libraries loaded later and by child processes), the
    libraries already loaded (threadpoolctl) and PyTorch. For a management command's or a Celery worker
    process's start; returns the cap."""
    global _process_limits
    from threadpoolctl import threadpool_limits

    n = threads or job_threads()
    for name in THREAD_ENV_VARS:
        os.environ[name] = str(n)
    _process_limits = threadpool_limits(limits=n)
    torch = _torch()
    if torch is not None:
        torch.set_num_threads(n)
    return n


def limit_worker_threads(**_signal: Any) -> None:
    """Celery's ``worker_init`` / ``worker_process_init`` receiver (connected by the personalization app):
    every worker process starts capped at :func:`job_threads`."""
    limit_process_threads()


def _torch():  # type: ignore[no-untyped-def]
    """PyTorch if installed (the MLP forecaster and the VAE import it anyway), else None."""
    try:
        import torch
    except ImportError:
        return None
    return torch
