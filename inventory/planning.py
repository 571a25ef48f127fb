"""Restock planning: policy look-up, the (s, S) maths per product, and idempotent suggestions.

Units: quantities in units; demand per week (the forecasts' period), lead times and review periods
entered in days and converted to weeks. Safety stock, reorder point and order-up-to level come from
:func:`inventory.ml.policy.plan_restock` (normal safety stock, or the empirical lead-time-demand
quantile for intermittent and lumpy items); a fill-rate target is turned into the equivalent cycle
service level with the normal loss function first.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from decimal import Decimal

import numpy as np
from django.core.exceptions import FieldDoesNotExist
from django.db import models, transaction
from django.db.models import Max, Q, Sum
from django.utils import timezone
from scipy import stats

from personalization.host.adapters import DefaultShopAdapter, ShopAdapter, get_adapter

from .conf import inventory_settings
from .forecasting import planning_date
from .ml import policy as pm
from .models import (
    DemandForecast,
    PurchaseOrder,
    PurchaseOrderLine,
    ReplenishmentPolicy,
    RestockSuggestion,
    Supplier,
)

INTERMITTENT_CLASSES = {"intermittent", "lumpy"}
STD_WEEKS = 26
#: Stored to a tenth of a unit: a buyer reads 12.3, not 12.292785714285715.
STORED_ROUNDED = ("forecast_demand", "safety_stock", "reorder_point", "order_up_to")


@dataclass(frozen=True)
class PolicyValues:
    """The replenishment parameters that apply to one product."""

    lead_time_days: float = 7.0
    lead_time_std_days: float = 0.0
    review_period_days: float = 7.0
    review_policy: str = "sS"
    service_level_type: str = "csl"
    service_level: float = 0.95
    min_order_quantity: int = 0
    pack_size: int = 1
    max_days_of_cover: int | None = None
    holding_cost_rate: float = 0.25
    order_cost: float | None = None
    do_not_order_below: int = 0
    order_without_demand: bool = False
    supplier_id: int | None = None
    source: str = "default"

    @classmethod
    def from_policy(cls, policy: ReplenishmentPolicy) -> PolicyValues:
        return cls(
            lead_time_days=policy.lead_time_days,
            lead_time_std_days=policy.lead_time_std_days,
            review_period_days=policy.review_period_days,
            review_policy=policy.review_policy,
            service_level_type=policy.service_level_type,
            service_level=policy.service_level,
            min_order_quantity=policy.min_order_quantity,
            pack_size=policy.pack_size,
            max_days_of_cover=policy.max_days_of_cover,
            holding_cost_rate=policy.holding_cost_rate,
            order_cost=None if policy.order_cost is None else float(policy.order_cost),
            do_not_order_below=policy.do_not_order_below,
            order_without_demand=policy.order_without_demand,
            supplier_id=policy.supplier_id,
            source=str(policy),
        )


@dataclass(frozen=True)
class PlanInput:
    """What the maths needs for one product (demand per week)."""

    on_hand: int
    on_order: int
    demand_mean: float
    demand_std: float
    policy: PolicyValues
    today: dt.date
    price: Decimal = Decimal("0")
    unit_cost: Decimal | None = None
    last_ordered: dt.date | None = None
    history: list[float] = field(default_factory=list)
    intermittent: bool = False
    weeks_since_last_sale: float | None = None


@dataclass(frozen=True)
class PlanResult:
    """One product's plan, in the shape a ``RestockSuggestion`` stores."""

    forecast_demand: float
    safety_stock: float
    reorder_point: float
    order_up_to: float
    suggested_quantity: int
    projected_stockout_date: dt.date | None
    order_by_date: dt.date | None
    lost_revenue_estimate: Decimal
    stockout_before_arrival: bool
    excess: bool
    dead_stock: bool
    method: str

    @property
    def needs_attention(self) -> bool:
        return self.suggested_quantity > 0 or self.stockout_before_arrival or self.excess or self.dead_stock


def margin_service_level(values: PolicyValues, price: Decimal, unit_cost: Decimal | None) -> float | None:
    """Newsvendor critical ratio ``cu / (cu + co)``: ``cu`` the margin lost on a unit short (price − unit cost),
    ``co`` the cost of carrying a unit for one review period (unit cost × holding rate × R / 365); within
    [0.5, 0.9999]. None when the unit cost is unknown or there is no margin."""
    if unit_cost is None or unit_cost <= 0 or price <= unit_cost:
        return None
    under = float(price - unit_cost)
    over = float(unit_cost) * values.holding_cost_rate * values.review_period_days / 365.0
    return float(min(max(pm.newsvendor_service_level(under, over), 0.5), 0.9999))


def lot_size(values: PolicyValues, demand_mean: float, unit_cost: Decimal | None) -> float | None:
    """The economic order quantity (units) when the policy has an order cost and the unit cost is known (None
    otherwise, and when it comes to nothing: no demand or a zero order cost)."""
    if values.order_cost is None or unit_cost is None or unit_cost <= 0:
        return None
    quantity = pm.eoq(demand_mean * 52.0, values.order_cost, float(unit_cost) * values.holding_cost_rate)
    return quantity if quantity > 0 else None


def review_due(values: PolicyValues, last_ordered: dt.date | None, today: dt.date) -> bool:
    """Whether an (R, S) product is due for review: no purchase order of it in the last review period."""
    return last_ordered is None or (today - last_ordered).days >= values.review_period_days


def last_ordered_by_product(product_ids: Iterable[int] | None = None) -> dict[int, dt.date]:
    """Day of the newest purchase order (not cancelled) with each product."""
    lines = PurchaseOrderLine.objects.exclude(purchase_order__status=PurchaseOrder.Status.CANCELLED)
    if product_ids is not None:
        lines = lines.filter(product_id__in=list(product_ids))
    newest = lines.values("product_id").annotate(at=Max("purchase_order__created_at"))
    return {row["product_id"]: timezone.localtime(row["at"]).date() for row in newest}


def cycle_service_level(values: PolicyValues, demand_mean: float, demand_std: float,
                        price: Decimal = Decimal("0"), unit_cost: Decimal | None = None) -> float:
    """The policy's target as a cycle service level; a fill rate β goes through the normal loss function:
    smallest k with σ_LTD·G(k) ≤ (1 − β)·Q, Q = demand over one review period, then Φ(k); "from the margin"
    is :func:`margin_service_level` (the policy's service level where that is unknown)."""
    if values.service_level_type == ReplenishmentPolicy.ServiceLevelType.MARGIN:
        margin = margin_service_level(values, price, unit_cost)
        return float(values.service_level) if margin is None else margin
    if values.service_level_type != ReplenishmentPolicy.ServiceLevelType.FILL_RATE:
        return float(values.service_level)
    lead, lead_std, review = values.lead_time_days / 7, values.lead_time_std_days / 7, values.review_period_days / 7
    sigma_ltd = math.sqrt(lead * demand_std**2 + demand_mean**2 * lead_std**2)
    k = pm.fill_rate_safety_factor(values.service_level, max(demand_mean * review, 1.0), sigma_ltd)
    return float(min(max(stats.norm.cdf(k), 0.5), 0.9999))


def has_demand(values: PolicyValues, demand_mean: float) -> bool:
    """Whether the forecast demand over the lead time plus the review period comes to at least
    ``INVENTORY["NO_DEMAND_BELOW"]`` units (or the policy orders without demand)."""
    horizon_weeks = (values.lead_time_days + values.review_period_days) / 7
    return values.order_without_demand or demand_mean * horizon_weeks >= float(inventory_settings.NO_DEMAND_BELOW)


def compute_plan(data: PlanInput) -> PlanResult:
    """Safety stock, reorder point s, order-up-to S and the rounded order quantity for one product.

    ``SS = z·sqrt(L·σ² + d²·σL²)`` (never negative), ``s = d·L + SS``, ``S = s + d·R`` (L, σL, R in weeks);
    the inventory position on hand + on order at or below s orders up to S, rounded up to whole packs and
    at least the MOQ, then capped at ``max_days_of_cover`` days of demand (rounded down to packs; below
    the MOQ nothing is ordered). A quantity under the policy's ``do_not_order_below`` becomes 0. A product
    without demand over the lead time plus the review period (:func:`has_demand`) orders nothing, and no
    stock-out, order-by date or lost revenue is reported for it, unless its policy orders without demand.
    """
    v = data.policy
    d, sigma = max(data.demand_mean, 0.0), max(data.demand_std, 0.0)
    periodic = v.review_policy == ReplenishmentPolicy.ReviewPolicy.PERIODIC
    lot = None if periodic else lot_size(v, d, data.unit_cost)
    lead, lead_std, review = v.lead_time_days / 7, v.lead_time_std_days / 7, v.review_period_days / 7
    plan = pm.plan_restock(
        on_hand=data.on_hand,
        on_order=data.on_order,
        demand_mean=d,
        demand_std=sigma,
        lead_time=lead,
        review_period=review,
        service_level=cycle_service_level(v, d, sigma, data.price, data.unit_cost),
        lead_time_std=lead_std,
        demand_history=data.history or None,
        intermittent=data.intermittent and len(data.history) >= 8,
        pack_size=max(int(v.pack_size), 1),
        moq=int(v.min_order_quantity),
        lot_size=lot,
        periodic=periodic,
        review_due=review_due(v, data.last_ordered, data.today),
    )
    position = data.on_hand + data.on_order
    demand = d > 0 and has_demand(v, d)
    qty = plan.order_quantity if demand else 0
    if qty and v.max_days_of_cover is not None:
        cap = d / 7 * v.max_days_of_cover - position
        if qty > cap:
            pack = max(int(v.pack_size), 1)
            qty = int(max(math.floor(cap / pack + 1e-9), 0) * pack)
            if qty < v.min_order_quantity:
                qty = 0
    if qty < v.do_not_order_below:
        qty = 0
    exceptions = pm.restock_exceptions(
        data.on_hand,
        data.on_order,
        d,
        lead,
        plan.order_up_to,
        excess_factor=float(inventory_settings.EXCESS_FACTOR),
        periods_since_last_sale=data.weeks_since_last_sale,
        dead_after_periods=float(inventory_settings.DEAD_STOCK_WEEKS),
    )
    daily = d / 7 if demand else 0.0
    stockout = order_by = None
    if daily > 0:
        stockout = data.today + dt.timedelta(days=math.floor(max(data.on_hand, 0) / daily))
        order_by = data.today + dt.timedelta(days=math.floor(max(position - plan.reorder_point, 0) / daily))
    short = max(d * lead - position, 0.0) if demand else 0.0
    return PlanResult(
        forecast_demand=d * (lead + review),
        safety_stock=max(plan.safety_stock, 0.0),
        reorder_point=max(plan.reorder_point, 0.0),
        order_up_to=max(plan.order_up_to, 0.0),
        suggested_quantity=int(qty),
        projected_stockout_date=stockout,
        order_by_date=order_by,
        lost_revenue_estimate=(Decimal(str(round(short, 4))) * data.price).quantize(Decimal("0.01")),
        stockout_before_arrival=demand and pm.EXCEPTION_STOCKOUT in exceptions,
        excess=pm.EXCEPTION_EXCESS in exceptions,
        dead_stock=pm.EXCEPTION_DEAD in exceptions,
        method=plan.method if lot is None else f"{plan.method}+eoq",
    )


def on_order_by_product(product_ids: Iterable[int] | None = None) -> dict[int, int]:
    """Units on open purchase orders (``INVENTORY["ON_ORDER_STATUSES"]``) per product id."""
    lines = PurchaseOrderLine.objects.filter(purchase_order__status__in=list(inventory_settings.ON_ORDER_STATUSES))
    if product_ids is not None:
        lines = lines.filter(product_id__in=list(product_ids))
    return {row["product_id"]: int(row["units"]) for row in lines.values("product_id").annotate(units=Sum("quantity"))}


class PolicyResolver:
    """Most specific active policy of a product: its own, its category's, the shop-wide one, the default."""

    def __init__(self) -> None:
        policies = list(ReplenishmentPolicy.objects.filter(is_active=True))
        self.by_product = {p.product_id: p for p in policies if p.scope == ReplenishmentPolicy.Scope.PRODUCT}
        self.by_category = {p.category: p for p in policies if p.scope == ReplenishmentPolicy.Scope.CATEGORY}
        shop_wide = [p for p in policies if p.scope == ReplenishmentPolicy.Scope.GLOBAL]
        self.default = (
            PolicyValues.from_policy(shop_wide[0])
            if shop_wide
            else PolicyValues(
                **{k: v for k, v in inventory_settings.DEFAULT_POLICY.items() if k in PolicyValues.__dataclass_fields__}
            )
        )

    def for_product(self, product_id: int, categories: list[str]) -> PolicyValues:
        """The product's own policy, else that of one of its categories (the first by name), else the default."""
        if product_id in self.by_product:
            return PolicyValues.from_policy(self.by_product[product_id])
        for category in categories:
            if category in self.by_category:
                return PolicyValues.from_policy(self.by_category[category])
        return self.default


def flag_below_supplier_minimum(suggestions: list[tuple[RestockSuggestion, Decimal | None]]) -> None:
    """Set ``below_supplier_minimum`` on each open suggestion (with a quantity) of a supplier whose open
    suggestions together come to fewer units than its ``min_order_units`` or are worth less, at unit cost,
    than its ``min_order_value`` (an unknown unit cost counts as 0)."""
    minimums = {
        s.pk: s for s in Supplier.objects.filter(Q(min_order_units__gt=0) | Q(min_order_value__gt=0))
    }
    units: dict[int, int] = {}
    value: dict[int, Decimal] = {}
    for suggestion, unit_cost in suggestions:
        suggestion.below_supplier_minimum = False
        supplier_id = suggestion.supplier_id
        if supplier_id in minimums and suggestion.suggested_quantity > 0:
            units[supplier_id] = units.get(supplier_id, 0) + suggestion.suggested_quantity
            value[supplier_id] = value.get(supplier_id, Decimal("0")) + (unit_cost or 0) * suggestion.suggested_quantity
    short = {
        pk for pk, total in units.items()
        if total < minimums[pk].min_order_units or value[pk] < minimums[pk].min_order_value
    }
    for suggestion, _ in suggestions:
        if suggestion.supplier_id in short and suggestion.suggested_quantity > 0:
            suggestion.below_supplier_minimum = True


def weeks_since_last_sale(history: list[float]) -> float | None:
    """Trailing weeks without a sale in ``history`` (None when it never sold in the kept window)."""
    nz = np.flatnonzero(np.asarray(history, dtype=float) > 0)
    return None if len(nz) == 0 else float(len(history) - 1 - nz[-1])


@dataclass
class PlanSummary:
    products: int = 0
    created: int = 0
    updated: int = 0
    removed: int = 0
    suggested_units: int = 0
    today: dt.date | None = None


def plan_input_for(
    forecast: DemandForecast, on_hand: int, on_order: int, policy: PolicyValues, today: dt.date, price: Decimal,
    unit_cost: Decimal | None = None,
    last_ordered: dt.date | None = None,
) -> PlanInput:
    """Plan input from a stored forecast: mean of its weekly means, spread of its recent history."""
    history = [float(v) for v in forecast.history]
    recent = history[-STD_WEEKS:]
    std = float(np.std(recent, ddof=1)) if len(recent) > 1 else 0.0
    return PlanInput(
        on_hand=on_hand,
        on_order=on_order,
        demand_mean=float(np.mean(forecast.mean)) if forecast.mean else 0.0,
        demand_std=std,
        policy=policy,
        today=today,
        price=price,
        unit_cost=unit_cost,
        last_ordered=last_ordered,
        history=recent,
        intermittent=forecast.demand_class in INTERMITTENT_CLASSES,
        weeks_since_last_sale=weeks_since_last_sale(history),
    )


def _products_with_categories(adapter: ShopAdapter, ids: list[int]) -> list[models.Model]:
    """Active products among ``ids``; with the default adapter, the category's relation joined in one query."""
    queryset = adapter.active_products().filter(pk__in=ids)
    if isinstance(adapter, DefaultShopAdapter) and adapter.product_fields.get("category"):
        model, relations = queryset.model, []
        for part in adapter.product_fields["category"].split("__"):
            try:
                model_field = model._meta.get_field(part)
            except FieldDoesNotExist:
                break
            if not model_field.is_relation or model_field.many_to_many:
                break
            relations.append(part)
            model = model_field.related_model
        if relations:
            queryset = queryset.select_related("__".join(relations))
    return list(queryset)


def plan_restock(today: dt.date | None = None, adapter: ShopAdapter | None = None) -> PlanSummary:
    """Plan every active product that has a forecast; idempotent.

    Each product keeps at most one open (or snoozed) suggestion: it is updated in place, created when a
    product needs attention, and removed when it no longer does. A snooze still running keeps its
    status. Stock on order (open purchase orders) counts in the inventory position, so a product whose
    order is placed is not suggested again.
    """
    adapter = adapter or get_adapter()
    today = today or planning_date()
    summary = PlanSummary(today=today)
    latest = DemandForecast.objects.order_by("-origin").values_list("origin", flat=True).first()
    if latest is None:
        return summary
    forecasts = {f.product_id: f for f in DemandForecast.objects.filter(origin=latest)}
    products = _products_with_categories(adapter, list(forecasts))
    on_order = on_order_by_product(forecasts)
    last_ordered = last_ordered_by_product(forecasts)
    resolver = PolicyResolver()
    existing = {
        s.product_id: s
        for s in RestockSuggestion.objects.filter(
            status__in=[RestockSuggestion.Status.OPEN, RestockSuggestion.Status.SNOOZED]
        )
    }
    to_create, to_update, to_delete = [], [], []
    kept: list[tuple[RestockSuggestion, Decimal | None]] = []
    categories = adapter.categories_of(products) if resolver.by_category else {}
    for product in products:
        values = resolver.for_product(product.pk, categories.get(product.pk, []))
        forecast = forecasts[product.pk]
        unit_cost = adapter.get_unit_cost(product)
        data = plan_input_for(
            forecast,
            adapter.get_stock(product),
            on_order.get(product.pk, 0) + adapter.get_on_order(product),
            values,
            today,
            adapter.get_price(product),
            unit_cost,
            last_ordered.get(product.pk),
        )
        result = compute_plan(data)
        summary.products += 1
        current = existing.get(product.pk)
        snoozed = (
            current is not None
            and current.status == RestockSuggestion.Status.SNOOZED
            and (current.snoozed_until is None or current.snoozed_until >= today)
        )
        if not result.needs_attention and not snoozed:
            if current is not None:
                to_delete.append(current.pk)
            continue
        fields = {
            **asdict(result),
            **{name: round(getattr(result, name), 1) for name in STORED_ROUNDED},
            "on_hand": data.on_hand,
            "on_order": data.on_order,
            "planned_at": today,
            "forecast": forecast,
            "supplier_id": values.supplier_id,
            "policy": {k: v for k, v in asdict(values).items() if k != "supplier_id"},
        }
        if current is None:
            current = RestockSuggestion(product=product, **fields)
            to_create.append(current)
        else:
            for name, value in fields.items():
                setattr(current, name, value)
            current.updated_at = timezone.now()  # an update() skips auto_now
            if not snoozed:
                current.status, current.snoozed_until = RestockSuggestion.Status.OPEN, None
            to_update.append(current)
        kept.append((current, unit_cost))
        summary.suggested_units += result.suggested_quantity
    flag_below_supplier_minimum(kept)
    update_fields = [
        *PlanResult.__dataclass_fields__,
        "on_hand",
        "on_order",
        "planned_at",
        "forecast",
        "supplier",
        "policy",
        "below_supplier_minimum",
        "status",
        "snoozed_until",
        "updated_at",
    ]
    with transaction.atomic():
        RestockSuggestion.objects.filter(pk__in=to_delete).delete()
        # one UPDATE a row: bulk_update's CASE WHEN per field and row took 9.3 s for the demo's 1,904 rows, this 0.7 s
        columns = [RestockSuggestion._meta.get_field(name).attname for name in update_fields]
        for suggestion in to_update:
            RestockSuggestion.objects.filter(pk=suggestion.pk).update(
                **{column: getattr(suggestion, column) for column in columns})
        RestockSuggestion.objects.bulk_create(to_create, batch_size=500)
    summary.created, summary.updated, summary.removed = len(to_create), len(to_update), len(to_delete)
    return summary
