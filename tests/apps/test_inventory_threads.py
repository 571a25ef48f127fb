"""One setting, SHOPSENSE_THREADS, caps the threads of OpenMP, BLAS and PyTorch inside a job."""

import pytest
import torch
from django.core.exceptions import ImproperlyConfigured
from threadpoolctl import threadpool_info

from inventory import threads


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
