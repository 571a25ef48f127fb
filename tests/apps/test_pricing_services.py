import datetime as dt
import logging
from decimal import Decimal

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.utils import timezone

from personalization.host.routing import route_task
from personalization.models import ModelVersion
from personalization.ops import locks
from pricing import services
from pricing.ml.guardrails import RULE_ORDER
from pricing.models import ImmutableRecordError, PriceChange, PriceSuggestion, PricingPolicy, PricingSettings
from pricing.tasks import refit_and_suggest
from tests.apps.test_pricing_support import make_item, make_policy, make_sales, media  # noqa: F401 - media is a fixture

pytestmark = pytest.mark.django_db


def _suggest(item, **policy):
    make_policy(**policy)
    return services.generate_suggestions([item])


def _set_breaker(share: str) -> None:
    row = PricingSettings.load()
    row.breaker_max_change = Decimal(share)
    row.save()


# --- guardrails through the service -------------------------------------------------------------


def test_a_hard_floor_is_applied_last_and_beats_the_ceiling_with_the_full_trail_recorded():
    item = make_item(price="5.00", cost="5.00")

    run = _suggest(
        item,
        min_margin=Decimal("0.20"),
        ceiling=Decimal("6.50"),
        max_change=Decimal("0.05"),
        price_endings=".99 < 100; whole",
    )

    suggestion = run.created[0]
    assert (suggestion.current_price, suggestion.suggested_price, suggestion.binding_rule) == (
        Decimal("5.00"),
        Decimal("6.99"),
        "floor-cost",
    )
    assert [step["rule"] for step in suggestion.clamp_trail] == list(RULE_ORDER)
    assert [step["status"] for step in suggestion.clamp_trail] == [
        "passed",
        "not-set",
        "passed",
        "passed",
        "clamped",
        "clamped",
        "not-set",
        "not-set",
    ]  # 5.00 -> 4.99 -> 6.99


@pytest.mark.usefixtures("media")
def test_the_optimiser_moves_at_most_the_policy_step_and_records_what_it_expects():
    item = make_item(price="10.00", cost="8.00")
    make_sales(item, elasticity=-3.0)
    services.fit_elasticities()

    run = _suggest(item, strategy=PricingPolicy.Strategy.OPTIMISE, max_change=Decimal("0.10"))

    suggestion = run.created[0]
    # Cost 8 and elasticity near -3: the profit optimum (about 12) lies beyond one 10 % step.
    assert (suggestion.suggested_price, suggestion.binding_rule) == (Decimal("11.00"), "max-change")
    assert suggestion.expected_units_suggested < suggestion.expected_units_current
    assert suggestion.expected_profit_suggested > suggestion.expected_profit_current
    assert suggestion.model_version.kind == services.MODEL_KIND
    assert 0 < suggestion.confidence <= 1
    assert -4.5 < suggestion.elasticity < -1.5


@pytest.mark.usefixtures("media")
def test_a_product_with_absurd_expectations_is_held_and_the_batch_goes_on(monkeypatch, caplog):
    # given two products with a fitted model, one of which the model (absurdly) expects to sell 10^13 a week
    item = make_item(price="10.00", cost="8.00")
    other = make_item(code="B2", price="10.00", cost="8.00")
    make_sales(item, elasticity=-3.0)
    make_sales(other, elasticity=-3.0)
    services.fit_elasticities()
    from pricing.ml.elasticity import ElasticityEstimator

    predict = ElasticityEstimator.predict

    def absurd(self, periods, prices, coef=None):
        units = predict(self, periods, prices, coef)
        units[0] = 1e13
        return units

    monkeypatch.setattr(ElasticityEstimator, "predict", absurd)
    make_policy(strategy=PricingPolicy.Strategy.OPTIMISE, max_change=Decimal("0.10"))
    # when the suggestions are generated
    with caplog.at_level(logging.WARNING, logger="pricing.suggestions"):
        run = services.generate_suggestions([item, other])
    # then the other product gets its suggestion, with its expectation; the absurd one is held, with a warning
    assert len(run.created) == 1 and run.implausible == 1
    assert run.created[0].expected_profit_suggested is not None
    assert "held: expected figures out of range" in caplog.text


@pytest.mark.usefixtures("media")
def test_no_suggestion_moves_against_the_strategys_direction():
    item = make_item(price="6.25", cost="5.00")
    make_sales(item, elasticity=-3.0)  # optimum about 7.50: up
    services.fit_elasticities()

    # A 10 % step allows 5.63-6.87, where the only price ending in .99 is 5.99: down.
    run = _suggest(item, strategy=PricingPolicy.Strategy.OPTIMISE, max_change=Decimal("0.10"), price_endings=".99")

    assert (run.created, run.unchanged) == ([], 1)


@pytest.mark.parametrize(
    "floor_fields",
    [
        {"min_margin": None, "ceiling": Decimal("8.00")},  # would cut the price to the ceiling
        {"min_margin": None, "map_price": Decimal("20.00")},  # would lift the price to the MAP
    ],
)
def test_a_blank_floor_means_the_product_is_not_repriced(floor_fields):
    item = make_item(price="10.00", cost="9.50")

    run = _suggest(item, **floor_fields)

    assert (run.created, run.unchanged) == ([], 1)
    assert PriceSuggestion.objects.count() == 0


def test_a_product_without_any_policy_is_left_alone():
    item = make_item()

    run = services.generate_suggestions([item])

    assert (run.created, run.without_policy) == ([], 1)


@pytest.mark.parametrize(
    "own, category, expected",
    [(True, True, "own"), (False, True, "category"), (False, False, "shop")],
)
def test_the_effective_policy_is_the_products_then_its_categorys_then_the_shops(own, category, expected):
    item = make_item(department="Lamps")
    make_policy(name="shop")
    if category:
        make_policy(scope=PricingPolicy.Scope.CATEGORY, category="Lamps", name="category")
    if own:
        make_policy(scope=PricingPolicy.Scope.PRODUCT, product=item, name="own")

    assert services.effective_policy(item).name == expected


# --- applying, pausing, the breaker, rolling back ------------------------------------------------


def _pending(item, price="10.99", **policy):
    run = _suggest(item, ceiling=Decimal(price), absolute_floor=Decimal(price), **policy)
    return run.created[0]


def test_applying_writes_the_price_and_records_who_and_why_once(django_user_model):
    item = make_item(price="10.00")
    staff = django_user_model.objects.create_user("sam", is_staff=True)
    suggestion = _pending(item)

    first = services.apply_suggestion(suggestion, staff)
    second = services.apply_suggestion(suggestion, staff)

    item.refresh_from_db()
    suggestion.refresh_from_db()
    assert item.price == Decimal("10.99")
    assert first == second
    assert PriceChange.objects.count() == 1
    assert (first.old_price, first.new_price, first.changed_by, first.source, first.suggestion) == (
        Decimal("10.00"),
        Decimal("10.99"),
        staff,
        "suggestion",
        suggestion,
    )
    assert (suggestion.status, suggestion.decided_by) == ("applied", staff)


def test_nothing_is_applied_while_pricing_is_paused():
    item = make_item(price="10.00")
    suggestion = _pending(item)
    services.set_paused(True)

    with pytest.raises(services.PricingPaused):
        services.apply_suggestion(suggestion)

    item.refresh_from_db()
    suggestion.refresh_from_db()
    assert (item.price, suggestion.status, PriceChange.objects.count()) == (Decimal("10.00"), "pending", 0)


@pytest.mark.parametrize("breaker, allowed", [("0.05", False), ("0.10", True)])
def test_the_circuit_breaker_refuses_a_change_larger_than_its_share_and_alerts_staff(
    settings, caplog, breaker, allowed
):
    settings.ADMINS = [("Ops", "ops@example.com")]
    item = make_item(price="10.00")
    suggestion = _pending(item)  # +9.9 %
    _set_breaker(breaker)

    with caplog.at_level(logging.ERROR, logger="pricing.actions"):
        if allowed:
            services.apply_suggestion(suggestion)
        else:
            with pytest.raises(services.CircuitBreakerTripped, match="exceeds the circuit breaker's 5%"):
                services.apply_suggestion(suggestion)

    item.refresh_from_db()
    assert item.price == (Decimal("10.99") if allowed else Decimal("10.00"))
    assert PriceChange.objects.count() == (1 if allowed else 0)
    assert len(mail.outbox) == (0 if allowed else 1)
    assert len([r for r in caplog.records if "Circuit breaker refused" in r.getMessage()]) == (0 if allowed else 1)


def test_the_circuit_breaker_refuses_a_price_below_cost():
    item = make_item(price="10.00", cost="9.80")

    with pytest.raises(services.CircuitBreakerTripped, match="below unit cost"):
        services.write_price(item, Decimal("9.50"))

    item.refresh_from_db()
    assert item.price == Decimal("10.00")


def test_a_suggestion_for_a_price_that_changed_since_expires_instead_of_overwriting_it():
    item = make_item(price="10.00")
    suggestion = _pending(item)
    item.price = Decimal("10.50")
    item.save()

    with pytest.raises(services.StalePrice):
        services.apply_suggestion(suggestion)

    item.refresh_from_db()
    suggestion.refresh_from_db()
    assert (item.price, suggestion.status) == (Decimal("10.50"), "expired")


def test_a_roll_back_restores_the_old_price_with_a_new_history_row_once(django_user_model):
    item = make_item(price="10.00")
    staff = django_user_model.objects.create_user("sam", is_staff=True)
    change = services.apply_suggestion(_pending(item), staff)

    undo = services.rollback(change, staff)
    again = services.rollback(change, staff)

    item.refresh_from_db()
    assert item.price == Decimal("10.00")
    assert undo == again
    assert (undo.old_price, undo.new_price, undo.source, undo.rollback_of) == (
        Decimal("10.99"),
        Decimal("10.00"),
        "rollback",
        change,
    )
    assert PriceChange.objects.count() == 2


def test_only_the_latest_change_can_be_rolled_back():
    item = make_item(price="10.00", cost="1.00")
    first = services.write_price(item, Decimal("10.50"))
    services.write_price(item, Decimal("11.00"))

    with pytest.raises(services.InvalidTransition, match="later price change"):
        services.rollback(first)


def test_auto_apply_policies_apply_at_once_and_suggest_policies_wait():
    auto_item = make_item(code="AUTO", price="10.00", department="Auto")
    manual_item = make_item(code="MAN", price="10.00", department="Manual")
    for name, mode in (("Auto", PricingPolicy.Mode.AUTO), ("Manual", PricingPolicy.Mode.SUGGEST)):
        make_policy(
            scope=PricingPolicy.Scope.CATEGORY,
            category=name,
            mode=mode,
            absolute_floor=Decimal("10.99"),
            ceiling=Decimal("10.99"),
        )

    run = services.generate_suggestions([auto_item, manual_item])

    auto_item.refresh_from_db()
    manual_item.refresh_from_db()
    assert (auto_item.price, manual_item.price) == (Decimal("10.99"), Decimal("10.00"))
    assert [s.product_id for s in run.applied] == [auto_item.pk]
    assert dict(PriceSuggestion.objects.values_list("product_id", "status")) == {
        auto_item.pk: "applied",
        manual_item.pk: "pending",
    }
    assert list(PriceChange.objects.values_list("product_id", "source", "changed_by")) == [(auto_item.pk, "auto", None)]


def test_auto_apply_during_a_pause_leaves_the_suggestion_pending_with_the_reason():
    item = make_item(price="10.00")
    services.set_paused(True)

    run = _suggest(item, mode=PricingPolicy.Mode.AUTO, absolute_floor=Decimal("10.99"), ceiling=Decimal("10.99"))

    suggestion = PriceSuggestion.objects.get()
    assert (run.applied, suggestion.status) == ([], "pending")
    assert suggestion.reason.startswith("Not auto-applied: Pricing is paused")


def test_a_new_suggestion_expires_the_pending_one_of_the_same_product():
    item = make_item(price="10.00")
    old = _pending(item)

    services.generate_suggestions([item])

    old.refresh_from_db()
    assert old.status == "expired"
    assert PriceSuggestion.objects.filter(status="pending").count() == 1


def test_suggestions_left_undecided_past_their_time_expire_on_the_next_run(settings):
    settings.PRICING = {"SUGGESTION_TTL_DAYS": 7}
    old_item, other = make_item(code="OLD", price="10.00"), make_item(code="NEW", price="10.00", department="Lamps")
    old = _pending(old_item)
    PriceSuggestion.objects.filter(pk=old.pk).update(created_at=timezone.now() - dt.timedelta(days=8))

    services.generate_suggestions([other])

    old.refresh_from_db()
    assert (old.status, old.reason) == ("expired", "Not decided within 7 days.")


def test_a_price_changed_within_the_minimum_interval_is_only_held_to_the_floors():
    item = make_item(price="10.00", cost="1.00")
    services.write_price(item, Decimal("10.50"))

    run = _suggest(item, ceiling=Decimal("9.00"), min_interval=dt.timedelta(days=7))

    assert (run.created, run.unchanged) == ([], 1)


@pytest.mark.parametrize("status", ["rejected", "expired", "applied"])
def test_a_decided_suggestion_cannot_be_approved(status):
    item = make_item()
    suggestion = _pending(item)
    PriceSuggestion.objects.filter(pk=suggestion.pk).update(status=status)

    with pytest.raises(services.InvalidTransition):
        services.approve(suggestion, None)


@pytest.mark.parametrize("reason", ["", "   "])
def test_rejecting_needs_a_reason(reason):
    suggestion = _pending(make_item())

    with pytest.raises(services.InvalidTransition, match="Say why"):
        services.reject(suggestion, None, reason)


# --- models --------------------------------------------------------------------------------------


def test_price_history_rows_can_be_neither_changed_nor_deleted():
    change = services.write_price(make_item(price="10.00"), Decimal("10.50"))

    change.reason = "rewritten"
    with pytest.raises(ImmutableRecordError):
        change.save()
    with pytest.raises(ImmutableRecordError):
        change.delete()
    assert PriceChange.objects.get().reason == ""


@pytest.mark.parametrize(
    "fields, error_fields",
    [
        ({"absolute_floor": Decimal("12"), "ceiling": Decimal("10")}, ["absolute_floor"]),
        ({"map_price": Decimal("12"), "ceiling": Decimal("10")}, ["map_price"]),
        ({"min_margin": Decimal("1.5"), "ceiling": Decimal("10")}, ["min_margin"]),  # cost 5 x 2.5 = 12.50
        ({"price_endings": ".99 < 100; .95 < 50"}, ["price_endings"]),
        ({"price_endings": ".42x"}, ["price_endings"]),
        ({"max_change": Decimal("1.5")}, ["max_change"]),
    ],
)
def test_policy_validation_explains_conflicting_bounds(fields, error_fields):
    item = make_item(cost="5.00")
    policy = PricingPolicy(scope=PricingPolicy.Scope.PRODUCT, product=item, **fields)

    with pytest.raises(ValidationError) as caught:
        policy.full_clean()

    assert sorted(caught.value.message_dict) == error_fields


def test_a_category_policy_needs_its_category():
    with pytest.raises(ValidationError) as caught:
        PricingPolicy(scope=PricingPolicy.Scope.CATEGORY).full_clean()
    assert list(caught.value.message_dict) == ["category"]


# --- the nightly job -----------------------------------------------------------------------------


@pytest.mark.usefixtures("media")
def test_the_nightly_task_refits_stores_an_active_model_and_suggests():
    items = [make_item(code=f"P{i}", price="10.00", cost="8.00") for i in range(2)]
    for seed, item in enumerate(items):
        make_sales(item, seed=seed)
    make_policy(strategy=PricingPolicy.Strategy.OPTIMISE, max_change=Decimal("0.10"))

    count = refit_and_suggest.delay().get()

    version = ModelVersion.objects.get(kind=services.MODEL_KIND)
    assert version.status == "active"
    assert version.metrics["products"] == 2.0
    assert count == 2
    assert PriceSuggestion.objects.filter(model_version=version).count() == 2


@pytest.mark.usefixtures("media")
def test_the_command_reports_what_it_did_without_sales(capsys):
    make_item(price="5.00", cost="5.00")
    make_policy()

    call_command("suggest_prices")

    assert capsys.readouterr().out.strip() == (
        "1 suggestions, 0 auto-applied, 0 blocked, 0 unchanged, 0 products without a policy."
    )
    assert ModelVersion.objects.filter(kind=services.MODEL_KIND).count() == 0


def test_a_change_is_stamped_now():
    before = timezone.now()
    change = services.write_price(make_item(price="10.00"), Decimal("10.50"))
    assert before <= change.changed_at <= timezone.now() + dt.timedelta(seconds=1)


@pytest.mark.usefixtures("media")
def test_the_command_can_create_the_default_shop_wide_policy_once(capsys):
    make_item(price="5.00", cost="5.00")

    call_command("suggest_prices", "--default-policy")
    call_command("suggest_prices", "--default-policy")

    out = capsys.readouterr().out
    assert out.count("Created the shop-wide default policy") == 1
    assert PricingPolicy.objects.get().mode == "suggest"
    assert PriceSuggestion.objects.get(status="pending").suggested_price == Decimal("5.99")


def test_the_refit_runs_on_the_ml_queue():
    assert route_task("pricing.refit_and_suggest", (), {}, {}) == {"queue": "ml"}


def test_a_second_run_while_one_holds_the_lock_is_refused():
    assert locks.acquire(services.LOCK_NAME, "other-run", 60)
    try:
        with pytest.raises(CommandError, match="Another price refit is running"):
            call_command("suggest_prices")
        assert refit_and_suggest.delay().get() is None
    finally:
        locks.release(services.LOCK_NAME, "other-run")


@pytest.mark.usefixtures("media")
@pytest.mark.parametrize(("setting", "value"), [("MIN_GAIN_ABSOLUTE", 1_000.0), ("MIN_GAIN_RELATIVE", 0.9)])
def test_no_optimiser_suggestion_below_the_minimum_expected_gain(settings, setting, value):
    item = make_item(price="10.00", cost="8.00")
    make_sales(item, elasticity=-3.0)
    services.fit_elasticities()
    settings.PRICING = {setting: value}

    run = _suggest(item, strategy=PricingPolicy.Strategy.OPTIMISE, max_change=Decimal("0.10"))

    assert (run.created, run.below_gain) == ([], 1)


@pytest.mark.usefixtures("media")
def test_expected_units_never_exceed_what_sold_at_comparable_prices():
    item = make_item(price="10.00", cost="8.00")
    make_sales(item, elasticity=-3.0, multipliers=(0.95, 1.0, 1.1))
    services.fit_elasticities()
    model = services.load_elasticities()

    run = _suggest(item, strategy=PricingPolicy.Strategy.OPTIMISE, max_change=Decimal("0.10"))

    suggestion = run.created[0]
    row = model.row_of()[item.pk]
    sold_now = model.most_sold_near(row, 10.0)
    sold_new = model.most_sold_near(row, float(suggestion.suggested_price))
    assert sold_now is not None and sold_new is not None
    assert suggestion.expected_units_current <= sold_now
    assert suggestion.expected_units_suggested <= sold_new
