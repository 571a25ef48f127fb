"""Generate price suggestions: each product's strategy proposes, the guardrails decide, the policy's mode applies.

For every active product with an effective policy (product > category > shop-wide) the policy's
strategy proposes a target price — the profit optimum of the fitted elasticity model, a markdown
when the stock will not sell through, or the current price — and
:func:`pricing.ml.guardrails.apply_guardrails` turns it into the suggested price, recording the
binding rule and the whole clamp trail. A product whose price would not move gets no suggestion.
Policies in *auto-apply* mode apply their suggestions at once (through the pause switch and the
circuit breaker, like any other change); the others wait for a person.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np
from django.db import models, transaction
from django.db.models import Max
from django.utils import timezone

from personalization.host.adapters import get_adapter

from . import actions
from .conf import pricing_settings
from .elasticities import FittedElasticities, load_elasticities
from .ml.guardrails import HARD_FLOOR_RULES, GuardrailPolicy, GuardrailResult, apply_guardrails
from .ml.strategies import MarkdownStrategy, PricingContext
from .models import PriceChange, PriceSuggestion, PricingPolicy
from .policies import PolicyResolver, guarded_cost, guardrail_policy

logger = logging.getLogger(__name__)
GRID_SIZE = 200
BATCH = 500
CENT = Decimal("0.01")
MONEY_LIMIT = 1e12  # the expected revenue and profit columns hold 14 digits, 2 of them cents


@dataclass
class SuggestionRun:
    """What one run produced: the suggestions made, the ones auto-applied, and why others were not
    (``below_gain``: optimiser suggestions whose expected gain did not clear the thresholds;
    ``implausible``: products held because their expected figures were out of range; ``refused``: why
    nothing was written or expired)."""

    created: list[PriceSuggestion] = field(default_factory=list)
    applied: list[PriceSuggestion] = field(default_factory=list)
    blocked: dict[int, str] = field(default_factory=dict)
    unchanged: int = 0
    without_policy: int = 0
    below_gain: int = 0
    implausible: int = 0
    refused: str = ""  # why the run wrote nothing: the refit did not go live (pricing.services.refit_and_suggest)


@dataclass
class _Item:
    product: models.Model
    policy: PricingPolicy
    guard: GuardrailPolicy
    current: float
    cost: Decimal | None
    guard_cost: float | None
    last_changed: dt.datetime | None
    row: int | None
    target: float = math.nan


def _money(value: float | None) -> Decimal | None:
    return None if value is None or not math.isfinite(value) else Decimal(str(round(value, 2))).quantize(CENT)


def _collect(products: Iterable[models.Model], model: FittedElasticities | None, run: SuggestionRun) -> list[_Item]:
    adapter = get_adapter()
    rows = model.row_of() if model is not None else {}
    products = list(products)
    last = dict(
        PriceChange.objects.filter(product__in=[p.pk for p in products])
        .values("product")
        .annotate(at=Max("changed_at"))
        .values_list("product", "at")
    )
    resolve = PolicyResolver(adapter)
    items = []
    for product in products:
        policy = resolve(product)
        if policy is None:
            run.without_policy += 1
            continue
        current = adapter.get_price(product)
        if not current > 0:
            continue
        cost = adapter.get_unit_cost(product)
        items.append(
            _Item(
                product,
                policy,
                guardrail_policy(policy),
                float(current),
                cost,
                guarded_cost(policy, cost),
                last.get(product.pk),
                rows.get(product.pk),
            )
        )
    return items


def _optimise(items: list[_Item], model: FittedElasticities | None) -> None:
    """Target: the most profitable price on a log grid between the hard floor and the ceiling."""
    todo = [it for it in items if it.policy.strategy == PricingPolicy.Strategy.OPTIMISE and it.row is not None]
    if not todo or model is None:
        return
    grid = np.tile(model.estimator.reference_price_[:, None], (1, GRID_SIZE))
    for it in todo:
        floor = it.guard.hard_floor(it.guard_cost)
        lo = floor[1] if floor is not None else 0.5 * it.current
        hi = max(it.guard.ceiling if it.guard.ceiling is not None else 3.0 * it.current, lo)
        grid[it.row] = np.exp(np.linspace(math.log(lo), math.log(hi), GRID_SIZE))
    units = model.estimator.predict(model.next_period, grid)
    for it in todo:
        cost = float(it.cost) if it.cost is not None else 0.0
        profit = (grid[it.row] - cost) * units[it.row]
        it.target = float(grid[it.row, int(np.argmax(profit))])


def _markdown(items: list[_Item], model: FittedElasticities | None) -> None:
    """Target: :class:`~pricing.ml.strategies.MarkdownStrategy` against the model's forecast at the current price."""
    todo = [it for it in items if it.policy.strategy == PricingPolicy.Strategy.MARKDOWN]
    if not todo:
        return
    horizon = int(pricing_settings.MARKDOWN_HORIZON_WEEKS)
    forecast = np.full((len(todo), horizon), np.nan)
    if model is not None:
        periods = model.next_period + np.arange(horizon, dtype=float)
        prices = model.estimator.reference_price_.copy()
        for it in todo:
            if it.row is not None:
                prices[it.row] = it.current
        all_units = model.estimator.predict(periods, prices[:, None])
        for i, it in enumerate(todo):
            if it.row is not None:
                forecast[i] = all_units[it.row]
    adapter = get_adapter()
    context = PricingContext(
        current_price=np.array([it.current for it in todo]),
        unit_cost=np.array([np.nan] * len(todo)),
        policies=[it.guard for it in todo],
        stock_remaining=np.array([adapter.get_stock(it.product) for it in todo], dtype=float),
        periods_left=horizon,
        forecast=forecast,
    )
    targets = MarkdownStrategy().targets(0, context)
    for it, target in zip(todo, targets, strict=True):
        it.target = float(target)


def _expected(
    items: list[tuple[_Item, GuardrailResult]], model: FittedElasticities | None
) -> dict[int, tuple[float, float, float]]:
    """Per product pk: expected weekly units at the current and the suggested price, and a confidence.

    Expected units are never above the most the product sold in one week at comparable prices (the
    price or up to 5 % below it); where it was never priced near the suggested price the model
    extrapolates, and the confidence is halved to say so.
    """
    if model is None:
        return {}
    prices = np.tile(model.estimator.reference_price_[:, None], (1, 2))
    known = [(it, res) for it, res in items if it.row is not None]
    for it, res in known:
        prices[it.row] = (it.current, res.price)
    units = model.estimator.predict(model.next_period, prices)
    sd = model.estimator.elasticity_std_
    out = {}
    for it, res in known:
        now, new = float(units[it.row, 0]), float(units[it.row, 1])
        confidence = float(1.0 / (1.0 + sd[it.row]))
        seen_now, seen_new = model.most_sold_near(it.row, it.current), model.most_sold_near(it.row, res.price)
        now = now if seen_now is None else min(now, seen_now)
        if seen_new is None:
            confidence *= 0.5
        else:
            new = min(new, seen_new)
        out[it.product.pk] = (now, new, confidence)
    return out


def _plausible(it: _Item, units_now: float | None, units_new: float | None, price: float) -> bool:
    """Whether the expected weekly revenue and profit at both prices are finite and fit the money columns
    (``MONEY_LIMIT``); no expectation at all is plausible (there is nothing to believe or store)."""
    cost = float(it.cost) if it.cost is not None else 0.0
    figures: list[float] = []
    for units, at in ((units_now, it.current), (units_new, price)):
        if units is not None:
            figures += [at * units, (at - cost) * units]  # revenue, profit
    return all(abs(v) < MONEY_LIMIT for v in figures)


def _clears_gain(it: _Item, units_now: float | None, units_new: float | None, price: float) -> bool:
    """Whether an optimiser suggestion's expected weekly profit gain clears ``MIN_GAIN_ABSOLUTE`` and
    ``MIN_GAIN_RELATIVE`` (other strategies, and suggestions without an expectation, always do)."""
    if it.policy.strategy != PricingPolicy.Strategy.OPTIMISE or units_now is None or units_new is None:
        return True
    cost = float(it.cost) if it.cost is not None else 0.0
    now, new = (it.current - cost) * units_now, (price - cost) * units_new
    gain = new - now
    return gain >= float(pricing_settings.MIN_GAIN_ABSOLUTE) and gain >= float(
        pricing_settings.MIN_GAIN_RELATIVE
    ) * max(now, 0.0)


def generate_suggestions(
    products: Iterable[models.Model] | None = None,
    *,
    now: dt.datetime | None = None,
    model: FittedElasticities | None = None,
    auto_apply: bool = True,
) -> SuggestionRun:
    """Suggest a price for each product (default: every active one) by its policy; see the module docstring.

    Earlier pending or approved suggestions of every product priced in this run expire (a product
    whose price should now stay gets no new one), and so do those older than
    ``PRICING["SUGGESTION_TTL_DAYS"]``. Confidence is
    ``1 / (1 + posterior sd of the elasticity)`` (0 without a fitted model), halved where the expected
    units extrapolate past any price the product sold at. An optimiser suggestion whose expected weekly
    profit gain is below ``PRICING["MIN_GAIN_ABSOLUTE"]`` or ``PRICING["MIN_GAIN_RELATIVE"]`` of the
    current expected profit is not written (counted in ``below_gain``).
    """
    now = now or timezone.now()
    model = model if model is not None else load_elasticities()
    run = SuggestionRun()
    items = _collect(products if products is not None else get_adapter().active_products(), model, run)
    _optimise(items, model)
    _markdown(items, model)
    results: list[tuple[_Item, GuardrailResult]] = []
    for it in items:
        proposal = it.target if math.isfinite(it.target) else it.current
        result = apply_guardrails(
            proposal,
            current_price=it.current,
            unit_cost=it.guard_cost,
            policy=it.guard,
            now=now,
            last_changed_at=it.last_changed,
        )
        if abs(result.price - it.current) < 0.005:
            run.unchanged += 1
            continue
        if (
            math.isfinite(it.target)
            and (it.target - it.current) * (result.price - it.current) < 0
            and result.rule not in HARD_FLOOR_RULES
        ):
            # The price-ending snap inside a narrow step window can land on the far side of the current
            # price; a move against the strategy's own direction is no suggestion worth a person's time.
            run.unchanged += 1
            continue
        results.append((it, result))
    expected = _expected(results, model)
    kept = []
    for it, result in results:
        units_now, units_new, _ = expected.get(it.product.pk, (None, None, 0.0))
        if not _plausible(it, units_now, units_new, result.price):
            # A model that extrapolates absurdly for one product must not stop the batch, nor move that
            # product's price on its say-so: the product is held, the others go on.
            logger.warning(
                "Price suggestions: product %s held: expected figures out of range (%s units a week now, "
                "%s at %.2f).", it.product.pk, units_now, units_new, result.price
            )
            run.implausible += 1
        elif _clears_gain(it, units_now, units_new, result.price):
            kept.append((it, result))
        else:
            run.below_gain += 1
    results = kept
    rows = []
    for it, result in results:
        units_now, units_new, confidence = expected.get(it.product.pk, (None, None, 0.0))
        cost = float(it.cost) if it.cost is not None else None
        revenue_now = None if units_now is None else it.current * units_now
        revenue_new = None if units_new is None else result.price * units_new
        profit_now = None if units_now is None or cost is None else (it.current - cost) * units_now
        profit_new = None if units_new is None or cost is None else (result.price - cost) * units_new
        rows.append(
            PriceSuggestion(
                product=it.product,
                policy=it.policy,
                strategy=it.policy.strategy,
                current_price=_money(it.current),
                suggested_price=_money(result.price),
                unit_cost=it.cost,
                expected_units_current=units_now,
                expected_units_suggested=units_new,
                expected_revenue_current=_money(revenue_now),
                expected_revenue_suggested=_money(revenue_new),
                expected_profit_current=_money(profit_now),
                expected_profit_suggested=_money(profit_new),
                elasticity=float(model.estimator.elasticity_[it.row])
                if model is not None and it.row is not None
                else None,
                confidence=confidence,
                binding_rule=result.rule,
                clamp_trail=[
                    {"rule": s.rule, "before": s.before, "after": s.after, "status": s.status} for s in result.trail
                ],
                model_version=model.version if model is not None else None,
            )
        )
    with transaction.atomic():  # one transaction: the old suggestions expire as the new ones appear
        product_ids = [it.product.pk for it in items]  # every product priced now, suggested or not
        for i in range(0, len(product_ids), BATCH):
            PriceSuggestion.objects.filter(
                product_id__in=product_ids[i : i + BATCH],
                status__in=[PriceSuggestion.Status.PENDING, PriceSuggestion.Status.APPROVED],
            ).update(status=PriceSuggestion.Status.EXPIRED, reason="Replaced by a newer suggestion.")
        ttl = dt.timedelta(days=int(pricing_settings.SUGGESTION_TTL_DAYS))
        PriceSuggestion.objects.filter(
            status__in=[PriceSuggestion.Status.PENDING, PriceSuggestion.Status.APPROVED], created_at__lt=now - ttl
        ).update(status=PriceSuggestion.Status.EXPIRED, reason=f"Not decided within {ttl.days} days.")
        created = PriceSuggestion.objects.bulk_create(rows, batch_size=BATCH)
    for (it, _), suggestion in zip(results, created, strict=True):
        run.created.append(suggestion)
        if auto_apply and it.policy.mode == PricingPolicy.Mode.AUTO:
            try:
                actions.apply_suggestion(suggestion, None, source=PriceChange.Source.AUTO)
            except actions.PricingError as exc:
                run.blocked[suggestion.pk] = str(exc)
                PriceSuggestion.objects.filter(pk=suggestion.pk, status=PriceSuggestion.Status.PENDING).update(
                    reason=f"Not auto-applied: {exc}"
                )
                logger.warning("Suggestion %s not auto-applied: %s", suggestion.pk, exc)
            else:
                suggestion.refresh_from_db()
                run.applied.append(suggestion)
    return run
