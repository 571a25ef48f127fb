"""Which policy governs a product (product > category > shop-wide) and its guardrail form."""

from __future__ import annotations

from decimal import Decimal

from django.db import models

from personalization.host.adapters import ShopAdapter, get_adapter

from .bands import parse_price_bands
from .ml.guardrails import GuardrailPolicy
from .models import PricingPolicy


class PolicyResolver:
    """Resolves the effective policy of many products from the active policies, read once."""

    def __init__(self, adapter: ShopAdapter | None = None):
        self.adapter = adapter or get_adapter()
        self.by_product: dict[object, PricingPolicy] = {}
        self.by_category: dict[str, PricingPolicy] = {}
        self.shop_wide: PricingPolicy | None = None
        for policy in PricingPolicy.objects.filter(is_active=True):
            if policy.scope == PricingPolicy.Scope.PRODUCT:
                self.by_product[policy.product_id] = policy
            elif policy.scope == PricingPolicy.Scope.CATEGORY:
                self.by_category[policy.category] = policy
            else:
                self.shop_wide = policy

    def __call__(self, product: models.Model) -> PricingPolicy | None:
        """The active policy of ``product``: its own, else that of one of its categories (the first by name
        when several have one), else the shop-wide one."""
        own = self.by_product.get(product.pk)
        if own is not None:
            return own
        if self.by_category:
            for category in self.adapter.get_categories(product):
                if category in self.by_category:
                    return self.by_category[category]
        return self.shop_wide


def effective_policy(product: models.Model, adapter: ShopAdapter | None = None) -> PricingPolicy | None:
    """The active policy of ``product``: its own, else its category's, else the shop-wide one."""
    return PolicyResolver(adapter)(product)


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
