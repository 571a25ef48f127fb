"""The nightly search of the hybrid's settings (personalization/recommending/tuning.py): defaults first, seeded,
within its budget, read from the hybrid's sources; stored on the version, shown in the admin, and run by
``evaluate_recommenders`` on the training part as ``served``."""
from __future__ import annotations

import datetime as dt
import io
import json

import numpy as np
import pandas as pd
import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from personalization.ml.hybrid import DEFAULT_SOURCES, NotEnoughHistory
from personalization.models import ModelVersion
from personalization.ops import registry
from personalization.recommending import training, tuning
from personalization.recommending.config import DEFAULTS, rec_settings

from .test_recommendations import _media, shop  # noqa: F401 - fixtures

END = pd.Timestamp("2026-06-01")


def shop_frame(seed: int = 0, users: int = 60, products: int = 30, days: int = 150) -> tuple[pd.DataFrame,
                                                                                            pd.DataFrame]:
    """Customers who each favour a few products of their department, buying every week or two, with noise."""
    rng = np.random.default_rng(seed)
    rows = []
    for user in range(users):
        favourites = rng.choice(products, size=4, replace=False)
        day = float(rng.uniform(0, 10))
        while day < days:
            for item in set(rng.choice(favourites, size=2).tolist()) | {int(rng.integers(products))}:
                rows.append((user, int(item), END - pd.Timedelta(days=days - day)))
            day += float(rng.uniform(4, 14))
    frame = pd.DataFrame(rows, columns=["user", "item", "timestamp"]).assign(quantity=1, price=2.0)
    items = pd.DataFrame({"item": range(products), "name": [f"p{n}" for n in range(products)],
                          "category": [n % 3 for n in range(products)], "price": 2.0})
    return frame, items


def run_search(frame, items, trials: int = 4, budget: float = 120, **kwargs):
    settings = {**DEFAULTS, "SEARCH": {"ENABLED": True, "TIME_BUDGET_S": budget, "MAX_TRIALS": trials}}
    return tuning.search(frame, items, END, settings, build=lambda chosen: training.make_model("hybrid", 0, chosen),
                         **kwargs)


def test_the_search_tries_the_defaults_first_never_ends_below_them_and_is_reproducible():
    frame, items = shop_frame()

    first = run_search(frame, items)
    again = run_search(frame, items)

    trials = first.summary["trials"]
    assert [t["number"] for t in trials] == [0, 1, 2, 3]
    assert trials[0]["origin"] == "defaults"
    assert trials[0]["params"] == {name: value[3] for name, value in tuning.search_space().items()}
    assert first.summary["best_value"] >= first.summary["default_value"]
    assert first.metrics["ndcg@20"] == first.summary["best_value"] == max(t["value"] for t in trials)
    assert sum(t["best"] for t in trials) == 1
    assert len({json.dumps(t["params"], sort_keys=True) for t in trials}) == 4  # TPE proposes other settings
    assert [t["params"] for t in again.summary["trials"]] == [t["params"] for t in trials]  # seeded
    assert again.settings == first.settings
    best = trials[first.summary["best_trial"]]["params"]
    assert first.settings == tuning.settings_from(best)


def test_the_search_stops_at_its_time_budget():
    frame, items = shop_frame(users=30)

    result = run_search(frame, items, trials=50, budget=1)

    assert 1 <= result.summary["n_trials"] < 50


def test_the_search_space_is_read_from_the_sources_so_a_new_source_is_searched_too():
    sources = {**DEFAULT_SOURCES, "recent": {"model": "TopPop", "params": {"window_days": 30.0}, "candidates": 10},
               "custom": {"model": "ImplicitALS", "params": {}, "candidates": 5}}

    space = tuning.search_space(sources)

    assert space["recent.window_days"][:2] == (7.0, 90.0) and space["recent.window_days"][3] == 30.0
    assert space["recent.candidates"][3] == 10 and space["custom.candidates"][3] == 5
    assert "content.half_life_days" not in space  # no decay by default: left alone
    assert {"ranker.learning_rate", "ranker.min_samples_leaf", "ease.lam", "repeat.half_life_days"} <= set(space)
    chosen = tuning.settings_from({"recent.window_days": 45.0, "ranker.max_iter": 80}, sources)
    assert chosen["sources"]["recent"]["params"]["window_days"] == 45.0
    assert chosen["ranker"]["max_iter"] == 80
    assert sources["recent"]["params"]["window_days"] == 30.0  # the specs themselves are not changed


def test_the_active_versions_settings_are_tried_second():
    frame, items = shop_frame(users=30)
    space = tuning.search_space()
    active = training.make_model("hybrid", 0, tuning.settings_from({"ease.lam": 500.0, "ranker.max_iter": 60}))

    result = run_search(frame, items, trials=2, active={"model": "hybrid", "params": active.get_params()})

    second = result.summary["trials"][1]
    assert second["origin"] == "active version"
    assert second["params"] == {**{n: v[3] for n, v in space.items()}, "ease.lam": 500.0, "ranker.max_iter": 60}


def test_a_trial_that_cannot_be_fitted_is_recorded_as_failed_and_the_search_goes_on():
    frame, items = shop_frame(users=30)
    defaults = tuning.settings_from({})

    def build(chosen):
        if chosen != defaults:
            raise NotEnoughHistory("no purchases in the label window(s) to learn the ranker from")
        return training.make_model("hybrid", 0, chosen)

    settings = {**DEFAULTS, "SEARCH": {"ENABLED": True, "TIME_BUDGET_S": 60, "MAX_TRIALS": 3}}
    result = tuning.search(frame, items, END, settings, build=build)

    states = [(t["state"], bool(t["error"])) for t in result.summary["trials"]]
    assert states == [("complete", False), ("fail", True), ("fail", True)]
    assert result.summary["best_trial"] == 0 and result.settings == defaults


def test_the_search_stops_with_not_enough_history_when_the_defaults_cannot_be_fitted():
    frame, items = shop_frame(users=30)

    def build(chosen):
        raise NotEnoughHistory("no purchases in the label window(s) to learn the ranker from")

    settings = {**DEFAULTS, "SEARCH": {"ENABLED": True, "TIME_BUDGET_S": 60, "MAX_TRIALS": 2}}
    with pytest.raises(NotEnoughHistory, match="label window"):
        tuning.search(frame, items, END, settings, build=build)


@pytest.mark.parametrize(("search", "message"), [
    ({"TIME_BUDGET_S": 0}, "TIME_BUDGET_S"), ({"MAX_TRIALS": "many"}, "MAX_TRIALS"), ({"ENABLED": "yes"}, "ENABLED"),
])
def test_a_bad_search_setting_is_a_clear_error(settings, search, message):
    settings.PERSONALIZATION = {**settings.PERSONALIZATION, "RECOMMENDATIONS": {"SEARCH": search}}
    with pytest.raises(ImproperlyConfigured, match=message):
        rec_settings()


@pytest.mark.django_db
def test_the_nightly_retrain_serves_the_searched_settings_and_the_admin_shows_the_search(shop):  # noqa: F811
    result = training.train("hybrid")

    version = result.version
    search = version.metadata["search"]
    assert result.activated
    assert search["n_trials"] == 3 and search["trials"][0]["origin"] == "defaults"  # tests/settings.py: 3 trials
    best = search["trials"][search["best_trial"]]
    assert best["best"] and best["value"] == version.metrics["ndcg@20"] == search["best_value"]
    served = training.make_model("hybrid", 0, tuning.settings_from(best["params"])).get_params()
    assert version.params["params"] == json.loads(json.dumps(served))
    assert registry.refusal(version) == ""

    staff = registry_owner()
    page = staff.get(f"/admin/personalization/modelversion/{version.pk}/change/").content.decode()
    assert "Settings this version serves" in page and "The search that chose them" in page
    assert page.count("★ best") == 1 and 'data-testid="trial-2"' in page
    assert f"{search['best_value']:.4f}" in page


@pytest.mark.django_db
def test_a_search_that_cannot_beat_the_active_version_is_refused(shop, settings):  # noqa: F811
    first = training.train("hybrid").version
    ModelVersion.objects.filter(pk=first.pk).update(metrics={**first.metrics, "ndcg@20": 1.5})  # unbeatable

    second = training.train("hybrid")

    assert not second.activated
    assert registry.refusal(second.version).startswith("Not better than the active version")
    assert second.version.metadata["search"]["trials"][0]["origin"] == "defaults"


@pytest.mark.django_db
def test_evaluate_recommenders_runs_the_search_on_the_training_part_and_reports_it_as_served(shop):  # noqa: F811
    cutoff = (timezone.now() - dt.timedelta(days=30)).date().isoformat()
    out = io.StringIO()

    call_command("evaluate_recommenders", "--cutoff", cutoff, "--models", "served", "--json", stdout=out)

    served = json.loads(out.getvalue())["results"]["served"]
    config = served["config"]
    assert config["model"] == "hybrid" and config["reason"].startswith("hybrid:")
    assert config["search"]["n_trials"] == 3
    cutoff_day = pd.Timestamp(cutoff)
    assert config["search"]["validation_days"] == 30  # the last 30 days before the cutoff, not the test window
    best = config["search"]["trials"][config["search"]["best_trial"]]["params"]
    assert config["params"]["sources"] == tuning.settings_from(best)["sources"]
    assert served["all"]["users"] == 24 and cutoff_day < pd.Timestamp.now()

    text = io.StringIO()
    call_command("evaluate_recommenders", "--cutoff", cutoff, "--models", "served", stdout=text)
    assert "served: hybrid: " in text.getvalue() and "served: search of 3 trial(s)" in text.getvalue()


def registry_owner() -> Client:
    from django.contrib.auth import get_user_model

    staff = get_user_model().objects.create_user("owner", password="pw", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(staff)
    return client
