"""Which policy governs a product (product > category > shop-wide) and its guardrail form."""

from __future__ import annotations

from decimal import Decimal

from django.db import models

from personalization.adapters import ShopAdapter, get_adapter

from .bands import parse_price_bands
from .ml.guardrails import GuardrailPolicy
from .models import PricingPolicy


def effective_policy(product: models.Model, adapter: ShopAdapter | None = None) -> PricingPolicy | None:
    """The active policy of ``product``: its own, else its category's, else the shop-wide one."""
    adapter = adapter or get_adapter()
    policies = PricingPolicy.objects.filter(is_active=True)
    own = policies.filter(scope=PricingPolicy.Scope.PRODUCT, product=product).first()
    if own is not None:
        return own
    category = adapter.get_category(product)
    if category:
        by_category = policies.filter(scope=PricingPolicy.Scope.CATEGORY, category=category).first()
        if by_category is not None:
            return by_category
    return policies.filter(scope=PricingPolicy.Scope.SHOP).first()


def _float(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def guardrail_policy(policy: PricingPolicy) -> GuardrailPolicy:
    """The :class:`~pricing.ml.guardrails.GuardrailPolicy` of a stored policy."""
    return GuardrailPolicy(
        min_margin=float(policy.min_margin or 0),
        map_price=_float(policy.map_price),
        absolute_floor=_float(policy.absolute_floor),
        ceiling=_float(policy.ceiling),
        max_change=_float(policy.max_change),
        min_interval=policy.min_interval,
        price_bands=parse_price_bands(policy.price_endings),
    )


def guarded_cost(policy: PricingPolicy, unit_cost: Decimal | None) -> float | None:
    """The unit cost the guardrails see: ``None`` (no cost floor) when the policy's margin is blank.

    A blank minimum margin and a blank absolute floor therefore mean "do not reprice".
    """
    if policy.min_margin is None or unit_cost is None:
        return None
    return float(unit_cost)
