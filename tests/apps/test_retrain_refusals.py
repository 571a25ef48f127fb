"""A retrain never makes things worse: each kind refuses too little data and a worse model, and says why."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from inventory import services as inventory
from inventory.forecasting import MODEL_KIND
from inventory.models import DemandForecast
from personalization.models import CustomerProfile, Event, ModelVersion, ProfileBuild
from personalization.ops import registry
from personalization.profiles import services as profiles
from personalization.recommending import training
from pricing import services as pricing
from pricing.models import PriceSuggestion, PricingPolicy
from tests.apps.test_pricing_support import make_item, make_policy, make_sales, media  # noqa: F401 - a fixture
from tests.apps.test_recommendations import _media, purchase, shop, trained  # noqa: F401 - fixtures
from tests.testhost.models import Department, Item, Purchase, PurchaseLine

pytestmark = pytest.mark.django_db


def admin_page() -> str:
    staff = get_user_model().objects.create_user("owner", password="pw", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(staff)
    return client.get("/admin/personalization/modelversion/").content.decode().replace("&#x27;", "'")


# --- recommender ------------------------------------------------------------------------------------------
def test_a_recommender_trained_on_too_few_purchases_stays_ready_with_the_reason_in_the_admin(settings):
    # given a shop that asks for 50 purchases of 5 customers, and two customers with a handful of purchases
    settings.PERSONALIZATION = {**settings.PERSONALIZATION, "RECOMMENDATIONS": {
        "MIN_TRAINING": {"purchases": 50, "customers": 5, "products": 3, "weeks": 2}}}
    items = [Item.objects.create(code=f"R{n}", title=f"Item {n}", department=Department.objects.get_or_create(
        title="Gifts")[0], price=Decimal("1.00"), stock=5) for n in range(4)]
    users = [get_user_model().objects.create_user(f"buyer{n}") for n in range(2)]
    now = timezone.now()
    Event.objects.bulk_create(purchase(user, item, now - dt.timedelta(days=day))
                              for user in users for item in items for day in (1, 3))
    # when
    result = training.train("simple")
    # then
    assert result.activated is False
    assert registry.active_version("recommender") is None
    reason = registry.refusal(result.version)
    assert reason.startswith("Not enough data: trained on 16 purchases, needs at least 50")
    assert "2 customers, needs at least 5" in reason
    assert result.version.status == "ready"
    assert "Not enough data: trained on 16 purchases, needs at least 50" in admin_page()


def test_a_worse_recommender_is_refused_with_the_comparison_in_the_admin(trained):  # noqa: F811 - the fixture
    result = training.train("popular")
    assert result.activated is False
    assert registry.active_version("recommender").pk == trained["version"].pk
    assert registry.refusal(result.version).startswith("Not better than the active version:")
    assert "does not beat" in admin_page()


# --- price elasticities -------------------------------------------------------------------------------------
@pytest.mark.usefixtures("media")
def test_an_elasticity_fit_on_three_weeks_is_refused():
    make_sales(make_item(), weeks=3)
    version = pricing.fit_elasticities()
    assert version.status == "ready"
    assert registry.active_version(pricing.MODEL_KIND) is None
    assert "weeks of sales, needs at least 8" in registry.refusal(version)
    assert "weeks of sales, needs at least 8" in admin_page()


@pytest.mark.usefixtures("media")
def test_a_refit_on_far_fewer_products_is_refused_and_leaves_the_suggestions_alone():
    # given three products with 16 weeks of sales, fitted and suggested for
    items = [make_item(code=f"P{n}", price="10.00", cost="4.00") for n in range(3)]
    for n, item in enumerate(items):
        make_sales(item, seed=n)
    make_policy(strategy=PricingPolicy.Strategy.OPTIMISE, max_change=Decimal("0.10"))
    first = pricing.refit_and_suggest()
    active = registry.active_version(pricing.MODEL_KIND)
    pending = set(PriceSuggestion.objects.filter(status="pending").values_list("pk", flat=True))
    assert active is not None and first.refused == ""
    # when two of them lose their history and the nightly job refits
    PurchaseLine.objects.filter(item__in=items[1:]).delete()
    run = pricing.refit_and_suggest()
    # then the refit is refused, the active version stays and no suggestion expired or was written
    assert registry.active_version(pricing.MODEL_KIND).pk == active.pk
    assert "trained on 1 products, needs at least 2 (half of the active" in run.refused
    assert run.created == []
    assert set(PriceSuggestion.objects.filter(status="pending").values_list("pk", flat=True)) == pending


# --- demand forecaster --------------------------------------------------------------------------------------
def _weekly_sales(item, weeks, end):
    for week in range(weeks):
        order = Purchase.objects.create(created=end - dt.timedelta(weeks=weeks - week))
        PurchaseLine.objects.create(purchase=order, item=item, qty=5, unit_price=Decimal("2.00"))


@pytest.fixture
def forecasting(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    settings.INVENTORY = {"FORECASTER": "WindowAverage"}
    return Department.objects.create(title="Toys")


def test_forecasts_from_four_weeks_of_history_are_not_stored(forecasting):
    item = Item.objects.create(code="F1", title="Item", department=forecasting, price=Decimal("2.00"), stock=0)
    _weekly_sales(item, 4, timezone.now() - dt.timedelta(days=1))
    run = inventory.forecast_demand()
    assert run.version.status == "ready" and run.n_products == 0
    assert not DemandForecast.objects.exists()
    assert "weeks of sales history, needs at least 8" in registry.refusal(run.version)


def test_forecasts_for_far_fewer_products_than_the_active_version_keep_the_active_ones(forecasting):
    # given an active forecast over two products
    items = [Item.objects.create(code=f"F{n}", title="Item", department=forecasting, price=Decimal("2.00"), stock=0)
             for n in range(2)]
    for item in items:
        _weekly_sales(item, 12, timezone.now() - dt.timedelta(days=1))
    active = inventory.forecast_demand().version
    stored = set(DemandForecast.objects.values_list("pk", flat=True))
    # when the active version had covered a hundred (as if the catalogue had shrunk to two) and it reruns
    ModelVersion.objects.filter(pk=active.pk).update(metrics={**active.metrics, "n_series": 100.0})
    run = inventory.forecast_demand()
    # then the new forecasts are refused and the active ones stay
    assert registry.active_version(MODEL_KIND).pk == active.pk
    assert "needs at least 50 (half of the active" in registry.refusal(run.version)
    assert set(DemandForecast.objects.values_list("pk", flat=True)) == stored


# --- profiles -----------------------------------------------------------------------------------------------
def _profiled_shop(end: dt.datetime, customers: int = 30) -> None:
    dept = Department.objects.create(title="Home")
    item = Item.objects.create(code="H1", title="Item", department=dept, price=Decimal("3.00"))
    for n in range(customers):
        user = get_user_model().objects.create_user(f"p{n}")
        for k in range(1 + n % 4):
            order = Purchase.objects.create(buyer=user, created=end - dt.timedelta(days=7 * (n % 9) + 30 * k))
            PurchaseLine.objects.create(purchase=order, item=item, qty=1 + n % 3, unit_price=Decimal("3.00"))


def test_a_profile_build_years_after_the_data_keeps_the_current_profiles(settings):
    # given profiles built as of the data's last day (2011)
    _profiled_shop(timezone.make_aware(dt.datetime(2011, 12, 9, 12)))
    settings.PERSONALIZATION = {**settings.PERSONALIZATION, "REFERENCE_TIME": "2011-12-10"}
    good = profiles.run_build(trigger="test")
    assert good.status == ProfileBuild.Status.DONE
    recency = dict(CustomerProfile.objects.values_list("user_id", "recency_days"))
    # when the nightly rebuild runs as of now, fifteen years later
    settings.PERSONALIZATION = {**settings.PERSONALIZATION, "REFERENCE_TIME": "now"}
    refused = profiles.run_build(trigger="test")
    # then it is refused, says why, and the profiles and segments stay those of the good build
    assert refused.status == ProfileBuild.Status.FAILED
    assert refused.message.startswith("Refused: the reference time")
    assert "days after the latest order (2011-12-09)" in refused.message
    assert dict(CustomerProfile.objects.values_list("user_id", "recency_days")) == recency
    assert set(CustomerProfile.objects.values_list("build_id", flat=True)) == {good.pk}


def test_a_median_recency_jump_beyond_the_setting_is_refused(settings):
    _profiled_shop(timezone.make_aware(dt.datetime(2024, 6, 1, 12)))
    settings.PERSONALIZATION = {**settings.PERSONALIZATION, "REFERENCE_TIME": "2024-06-02"}
    profiles.run_build(trigger="test")
    settings.PERSONALIZATION = {  # 100 days on: within the history's length, beyond the allowed jump
        **settings.PERSONALIZATION, "REFERENCE_TIME": "2024-09-10", "PROFILES": {"REFUSE_RECENCY_JUMP_DAYS": 60},
    }
    refused = profiles.run_build(trigger="test")
    assert refused.message.startswith("Refused: the median recency would move from")
