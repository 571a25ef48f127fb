"""A real browser on Admin → Model versions: every button and action a shop owner has there is clicked.

The page once nested the "Retrain now" form inside the changelist's form: a browser drops the inner
form's start tag, so the button posted the changelist and its end tag cut the actions off the form —
Activate, Retire and A/B test sent nothing. Crafted POSTs never saw it; only a browser does.
"""
from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model

from personalization.models import ModelVersion
from personalization.ops import registry

from .conftest import TEST_PASSWORD
from .test_browser import save_screenshot
from .test_recs_browser import trained_shop  # noqa: F401 - fixture

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _select_and_run(page, version: ModelVersion, label: str) -> None:
    page.locator(f'#result_list input.action-select[value="{version.pk}"]').check()
    page.locator("select[name=action]").select_option(label=label)
    page.get_by_role("button", name="Go").click()


def _messages(page) -> str:
    return page.locator("ul.messagelist").inner_text()


def test_every_model_version_button_works_in_a_browser(page, live_server, trained_shop):  # noqa: F811
    get_user_model().objects.create_user("owner", password=TEST_PASSWORD, is_staff=True, is_superuser=True)
    first = registry.active_version(ModelVersion.objects.get().kind)
    page.goto(f"{live_server.url}/admin/login/?next=/admin/personalization/modelversion/")
    page.get_by_label("Username").fill("owner")
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    save_screenshot(page, "modelversions")

    # "Retrain the recommender now" trains a second version (tasks run in-process in the demo)
    page.get_by_test_id("retrain-now").click()
    page.wait_for_url("**/admin/personalization/modelversion/")
    assert "Recommender training queued" in _messages(page)
    assert ModelVersion.objects.count() == 2
    second = ModelVersion.objects.exclude(pk=first.pk).get()

    # The retrain ("auto": the hybrid here) searched its settings: its page shows them and the trials
    assert second.params["model"] == "hybrid"
    search = second.metadata["search"]
    page.goto(f"{live_server.url}/admin/personalization/modelversion/{second.pk}/change/")
    save_screenshot(page, "modelversion-search")
    settings_table = page.get_by_test_id("chosen-settings")
    assert "ease" in settings_table.inner_text() and "learning_rate=" in settings_table.inner_text()
    rows = page.get_by_test_id("search").locator("tbody tr")
    assert rows.count() == search["n_trials"] == 3
    best = page.get_by_test_id(f"trial-{search['best_trial']}")
    assert "★ best" in best.inner_text() and f"{search['best_value']:.4f}" in best.inner_text()
    assert "defaults" in page.get_by_test_id("trial-0").inner_text()
    page.goto(f"{live_server.url}/admin/personalization/modelversion/")

    # A/B test: the ready version serves half of the visitors, then the test stops
    page.reload()
    if second.status == ModelVersion.Status.READY:
        _select_and_run(page, second, "A/B test: serve the selected ready version to half of the visitors")
        assert "now serves half of the visitors" in _messages(page)
        _select_and_run(page, second, "A/B test: stop (everyone sees the active version)")
        assert "Stopped 1 A/B test(s)." in _messages(page)

    # Activate the first version again (whichever is active now), then retire the other
    _select_and_run(page, first, "Activate the selected version (retires the active one)")
    assert "is now active." in _messages(page)
    first.refresh_from_db()
    assert first.status == ModelVersion.Status.ACTIVE
    _select_and_run(page, second, "Retire the selected versions")
    assert "Retired 1 version(s)." in _messages(page)
    second.refresh_from_db()
    assert second.status == ModelVersion.Status.RETIRED

    # "Retrain the recommender now" as an action, and the preview link
    _select_and_run(page, first, "Retrain the recommender now")
    assert "Recommender training queued" in _messages(page)
    page.get_by_role("link", name="Preview a customer's recommendations").click()
    page.get_by_role("textbox").first.fill("buyer0")
    page.get_by_role("button", name="Preview").click()
    page.wait_for_url(re.compile(r".*/preview/\?user=buyer0$"))
    heading = page.locator("#content h2").first
    save_screenshot(page, "modelversions-preview")
    assert heading.inner_text().startswith("buyer0")
    assert page.get_by_text("No user").count() == 0
