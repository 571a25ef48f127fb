"""The torch sequence source of the hybrid: off by default, searched as ``sequence.use`` with
``RECOMMENDATIONS["SEQUENCE"] = "search"``, always in with ``"on"``; its retrain goes to the gpu queue."""
from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from personalization.host.routing import route_task
from personalization.ml.hybrid import DEFAULT_SOURCES, OPTIONAL_SOURCES
from personalization.recommending import training, tuning
from personalization.recommending.config import DEFAULTS, rec_settings

from .test_recommender_search import END, shop_frame


def with_sequence(settings, mode: str) -> None:
    settings.PERSONALIZATION = {**settings.PERSONALIZATION, "RECOMMENDATIONS": {"SEQUENCE": mode}}


@pytest.mark.parametrize(("mode", "served", "optional"), [
    ("off", set(DEFAULT_SOURCES), ()),
    ("search", set(DEFAULT_SOURCES), ("sequence",)),
    ("on", set(DEFAULT_SOURCES) | {"sequence"}, ()),
])
def test_the_sequence_source_is_off_unless_the_settings_turn_it_on(settings, mode, served, optional):
    with_sequence(settings, mode)

    sources, searched = tuning.hybrid_sources(rec_settings())

    assert set(tuning.default_sources(rec_settings())) == served
    assert searched == optional
    assert set(training.make_model("hybrid").get_params()["sources"]) == served  # no search: the defaults
    assert ("sequence" in sources) == (mode != "off")


def test_a_bad_sequence_setting_is_a_clear_error(settings):
    with_sequence(settings, "yes")

    with pytest.raises(ImproperlyConfigured, match=r'\["SEQUENCE"\] must be one of'):
        rec_settings()


def test_the_search_space_holds_whether_to_use_it_and_its_parameters():
    sources = {**DEFAULT_SOURCES, **OPTIONAL_SOURCES}

    space = tuning.search_space(sources, optional=("sequence",))

    assert space["sequence.use"] == (0, 1, "linear", 0)  # the defaults trial goes without it
    assert {"sequence.max_len", "sequence.lr", "sequence.candidates"} <= set(space)
    assert "tifu.use" not in space
    defaults = {name: value[3] for name, value in space.items()}
    assert "sequence" not in tuning.settings_from(defaults, sources)["sources"]
    chosen = tuning.settings_from({**defaults, "sequence.use": 1, "sequence.max_len": 20}, sources)
    assert chosen["sources"]["sequence"]["params"]["max_len"] == 20
    assert set(chosen["sources"]) == set(sources)


@pytest.mark.parametrize("use", [0, 1])
def test_a_stored_version_with_or_without_it_fits_the_space_again(use):
    sources = {**DEFAULT_SOURCES, **OPTIONAL_SOURCES}
    space = tuning.search_space(sources, optional=("sequence",))
    flat = {**{name: value[3] for name, value in space.items()}, "sequence.use": use, "ease.lam": 500.0}
    stored = training.make_model("hybrid", 0, tuning.settings_from(flat, sources)).get_params()

    assert tuning.flat_settings(stored, space) == flat


def test_the_search_tries_the_hybrid_without_and_with_the_sequence_source_and_keeps_the_better():
    frame, items = shop_frame(users=30)
    fitted: list[bool] = []

    def build(chosen):
        fitted.append("sequence" in chosen["sources"])
        return training.make_model("hybrid", 0, chosen)

    settings = {**DEFAULTS, "SEQUENCE": "search", "SEARCH": {"ENABLED": True, "TIME_BUDGET_S": 600, "MAX_TRIALS": 4}}
    result = tuning.search(frame, items, END, settings, build=build)

    trials = result.summary["trials"]
    assert result.summary["sequence"] == "search"
    assert [bool(t["params"]["sequence.use"]) for t in trials] == fitted
    assert fitted[0] is False and True in fitted  # the defaults go without it; TPE tries it
    best = trials[result.summary["best_trial"]]
    assert ("sequence" in result.settings["sources"]) == bool(best["params"]["sequence.use"])
    assert best["value"] == max(t["value"] for t in trials)


@pytest.mark.parametrize(("mode", "gpu_worker", "queue"), [
    ("off", True, "ml"), ("search", True, "gpu"), ("on", True, "gpu"), ("on", False, "ml"), ("search", False, "ml"),
])
def test_the_retrain_goes_to_the_gpu_queue_when_it_trains_the_torch_source_and_a_gpu_worker_exists(
        settings, mode, gpu_worker, queue):
    with_sequence(settings, mode)
    settings.SHOPSENSE_GPU_QUEUE = gpu_worker

    assert route_task("personalization.retrain_recommenders", (), {}, {}) == {"queue": queue}
    assert route_task("personalization.flush_events", (), {}, {}) == {"queue": "default"}
