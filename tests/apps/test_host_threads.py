"""One setting, SHOPSENSE_THREADS, caps the threads of OpenMP, BLAS and PyTorch inside a job, a command and a
Celery worker process."""

import os
import subprocess
import sys

import pytest
import torch
from celery.signals import worker_init, worker_process_init
from django.core.exceptions import ImproperlyConfigured
from threadpoolctl import threadpool_info, threadpool_limits

from personalization.host import threads


def _library_threads() -> set[int]:
    return {info["num_threads"] for info in threadpool_info()}


@pytest.mark.parametrize(("setting", "env", "expected"), [(3, "", 3), (None, "5", 5), (0, "7", 7), ("", "", None)])
def test_job_threads_come_from_the_setting_then_the_environment(settings, monkeypatch, setting, env, expected):
    settings.SHOPSENSE_THREADS = setting
    monkeypatch.setenv("SHOPSENSE_THREADS", env)

    default = min(threads.DEFAULT_THREADS, threads.available_cpus())
    assert threads.job_threads() == (default if expected is None else expected)


@pytest.mark.parametrize("value", ["two", -1])
def test_a_bad_thread_count_is_a_configuration_error(settings, value):
    settings.SHOPSENSE_THREADS = value

    with pytest.raises(ImproperlyConfigured, match="SHOPSENSE_THREADS"):
        threads.job_threads()


def test_limited_threads_caps_openmp_blas_and_torch_and_restores_them(settings):
    # given
    settings.SHOPSENSE_THREADS = 1
    torch.set_num_threads(2)
    before = _library_threads()
    # when
    with threads.limited_threads() as n:
        inside, inside_torch = _library_threads(), torch.get_num_threads()
    # then
    assert (n, inside, inside_torch) == (1, {1}, 1)
    assert (_library_threads(), torch.get_num_threads()) == (before, 2)


@pytest.fixture
def restore_process_threads(monkeypatch):
    """Two threads per library to start from (a command run earlier in the session may have capped the
    process), restored afterwards."""
    for name in threads.THREAD_ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    outer = threadpool_limits(limits=2)
    torch.set_num_threads(2)
    yield _library_threads()
    if threads._process_limits is not None:
        threads._process_limits.restore_original_limits()
        threads._process_limits = None
    outer.restore_original_limits()
    torch.set_num_threads(2)


def test_limit_process_threads_caps_this_process_and_the_processes_it_starts(settings, restore_process_threads):
    # given
    settings.SHOPSENSE_THREADS = 1
    # when
    n = threads.limit_process_threads()
    # then
    assert (n, _library_threads(), torch.get_num_threads()) == (1, {1}, 1)
    assert {os.environ[name] for name in threads.THREAD_ENV_VARS} == {"1"}
    child = subprocess.run(
        [sys.executable, "-c", "import numpy, threadpoolctl; "
         "print(max(i['num_threads'] for i in threadpoolctl.threadpool_info()))"],
        capture_output=True, text=True, check=True, timeout=60,
    )
    assert child.stdout.strip() == "1"


@pytest.mark.parametrize("signal", [worker_init, worker_process_init])
def test_a_celery_worker_process_starts_capped(settings, restore_process_threads, signal):
    settings.SHOPSENSE_THREADS = 1
    assert restore_process_threads != {1}, "the machine runs one thread per library anyway: nothing to see"

    signal.send(sender=None)

    assert (_library_threads(), torch.get_num_threads()) == ({1}, 1)


@pytest.mark.parametrize(("setting", "env", "expected"), [(3, "", 3), (None, "1", 1), ("", "", None), (0, "0", None)])
def test_independent_fits_run_in_the_configured_processes_else_up_to_two(settings, monkeypatch, setting, env, expected):
    settings.SHOPSENSE_THREADS = setting
    monkeypatch.setenv("SHOPSENSE_THREADS", env)

    default = min(threads.DEFAULT_PROCESSES, threads.available_cpus())
    assert threads.job_processes() == (default if expected is None else expected)
