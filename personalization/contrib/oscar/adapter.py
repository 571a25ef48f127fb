"""The ``ShopAdapter`` for django-oscar, named in the settings as
``PERSONALIZATION["SHOP_ADAPTER"] = "personalization.contrib.oscar.adapter.OscarShopAdapter"``.

What it reads and writes:

- price, stock and availability through Oscar's own strategy (``partner.strategy.Selector().strategy()``,
  ``fetch_for_product``): the price is the strategy's price excluding tax (the stock record's ``price`` in
  Oscar's strategies, and what ``set_price`` writes), the stock is the chosen stock record's
  ``num_in_stock - num_allocated``; a product is active when it is public, not a parent, and the strategy
  finds a stock record with a price for it;
- categories from the many-to-many category tree (``get_categories`` lists them all; ``get_category`` is the
  first); the unit cost from a product attribute or a stock-record field (``PERSONALIZATION["OSCAR"]``);
- order lines from ``order.Line`` / ``order.Order`` in bulk (columns, never one object per row): the price of
  a line is what was paid per unit (``line_price_excl_tax / quantity``, discounts included), orders in a
  non-sale status (cancelled by default) are left out, a line whose product was deleted comes with
  ``product_id=None`` and a guest's order with ``user_id=None``;
- ``set_price`` writes the stock record's ``price``; ``adjust_stock`` changes its ``num_in_stock`` in the
  database (an ``F`` expression).
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db import models, transaction
from django.db.models.functions import Coalesce, Greatest
from oscar.core.loading import get_class, get_model

from personalization.host.adapters import OrderLineFact, WeeklySales, week_monday, week_of

from .conf import oscar_settings

_INFO_ATTRIBUTE = "_shopsense_purchase_info"
_CENT = Decimal("0.01")


class OscarShopAdapter:
    """Reads Oscar's catalogue through its strategy and its orders in bulk; writes to the stock record."""

    def __init__(self) -> None:
        self._strategy: Any = None

    # --- Oscar's classes and models (forked apps included) --------------------------------------
    @staticmethod
    def _model(app_label: str, name: str) -> type[models.Model]:
        return get_model(app_label, name)

    @property
    def strategy(self) -> Any:
        """Oscar's strategy for a request-less caller (a task, a command, the apps' API)."""
        if self._strategy is None:
            self._strategy = get_class("partner.strategy", "Selector")().strategy()
        return self._strategy

    def _info(self, product: models.Model) -> Any:
        """The strategy's ``PurchaseInfo`` of ``product``, kept on the instance for this adapter's reads."""
        cached = getattr(product, _INFO_ATTRIBUTE, None)
        if cached is not None and cached[0] is self:
            return cached[1]
        info = self.strategy.fetch_for_product(product)
        setattr(product, _INFO_ATTRIBUTE, (self, info))
        return info

    def _stockrecord(self, product: models.Model) -> Any:
        return self._info(product).stockrecord

    # --- products ---------------------------------------------------------------------------
    def get_price(self, product: models.Model) -> Decimal:
        """The strategy's price excluding tax; a parent's is its cheapest child's (Oscar's ``fetch_for_parent``).

        A product the strategy has no price for (no stock record, no priced child) reads as 0: it is not
        active, so nothing is priced, planned or recommended from that figure.
        """
        price = self._info(product).price
        if not price.exists and product.is_parent:
            price = self.strategy.fetch_for_parent(product).price
        if not price.exists or price.excl_tax is None:
            return Decimal("0")
        return Decimal(price.excl_tax)

    def get_unit_cost(self, product: models.Model) -> Decimal | None:
        conf = oscar_settings()
        value = None
        if conf["UNIT_COST_ATTRIBUTE"]:
            value = getattr(product.attr, conf["UNIT_COST_ATTRIBUTE"], None)
        if value is None and conf["UNIT_COST_STOCKRECORD_FIELD"]:
            record = self._stockrecord(product)
            value = getattr(record, conf["UNIT_COST_STOCKRECORD_FIELD"], None) if record is not None else None
        return None if value is None or value == "" else Decimal(str(value))

    def get_stock(self, product: models.Model) -> int:
        record = self._stockrecord(product)
        if record is None:
            return 0
        return int(record.net_stock_level or 0)

    def get_on_order(self, product: models.Model) -> int:
        return 0  # Oscar has no purchase orders of its own

    def get_categories(self, product: models.Model) -> list[str]:
        """The names of all the product's categories (a child's are its parent's), the primary one first."""
        return [str(category.name) for category in product.get_categories()]

    def get_category(self, product: models.Model) -> str | None:
        categories = self.get_categories(product)
        return categories[0] if categories else None

    def categories_of(self, products: Iterable[models.Model]) -> dict[Any, list[str]]:
        """:meth:`get_categories` of many products at once: one query per 2,000 products, not one each."""
        owner = {product.pk: product.parent_id if product.is_child else product.pk for product in products}
        links = self._model("catalogue", "ProductCategory")._default_manager
        names: dict[Any, list[str]] = {}
        ids = list(set(owner.values()))
        for start in range(0, len(ids), 2_000):
            rows = (links.filter(product_id__in=ids[start:start + 2_000])
                    .order_by("product_id", "category__path").values_list("product_id", "category__name"))
            for product_id, name in rows:
                names.setdefault(product_id, []).append(str(name))
        return {pk: list(names.get(parent, [])) for pk, parent in owner.items()}

    def get_name(self, product: models.Model) -> str:
        return str(product.get_title() or product)

    def get_text(self, product: models.Model) -> str:
        parts = [product.get_title(), product.description or "", *self.get_categories(product)]
        return " ".join(str(part).strip() for part in parts if part)

    def is_active(self, product: models.Model) -> bool:
        if not product.is_public or product.is_parent:
            return False
        return self._info(product).price.exists

    def active_products(self) -> models.QuerySet:
        product_model = self._model("catalogue", "Product")
        priced = self._model("partner", "StockRecord")._default_manager.filter(
            product=models.OuterRef("pk"), price__isnull=False
        )
        return (
            product_model._default_manager.filter(is_public=True)
            .exclude(structure=product_model.PARENT)
            .filter(models.Exists(priced))
            .select_related("product_class", "parent__product_class")
            .prefetch_related("stockrecords")
        )

    def is_available(self, product: models.Model) -> bool:
        """May be recommended: active, and Oscar's strategy says it can be bought now (stock net of allocations)."""
        return self.is_active(product) and bool(self._info(product).availability.is_available_to_buy)

    def available_products(self) -> models.QuerySet:
        """The active products with a priced stock record that has units free (or whose class tracks no stock)."""
        in_stock = self._model("partner", "StockRecord")._default_manager.annotate(
            free=Coalesce(models.F("num_in_stock"), 0) - Coalesce(models.F("num_allocated"), 0)
        ).filter(product=models.OuterRef("pk"), price__isnull=False, free__gt=0)
        untracked = models.Q(product_class__track_stock=False) | models.Q(
            product_class__isnull=True, parent__product_class__track_stock=False
        )
        return self.active_products().filter(models.Exists(in_stock) | untracked)

    # --- orders -----------------------------------------------------------------------------
    def _lines(self) -> models.QuerySet:
        statuses = list(oscar_settings()["NON_SALE_STATUSES"] or [])
        queryset = self._model("order", "Line")._default_manager.all()
        return queryset.exclude(order__status__in=statuses) if statuses else queryset

    def _line_values(self, queryset: models.QuerySet) -> Iterator[OrderLineFact]:
        rows = queryset.order_by("order__date_placed", "pk").values_list(
            "pk", "order_id", "product_id", "order__user_id", "quantity",
            Coalesce("line_price_excl_tax", "line_price_incl_tax"), "order__date_placed",
        )
        for line_id, order_id, product_id, user_id, quantity, line_price, placed_at in rows.iterator(chunk_size=5000):
            quantity = int(quantity or 0)
            total = Decimal(line_price or 0)
            price = (total / quantity).quantize(_CENT, rounding=ROUND_HALF_UP) if quantity else total
            yield OrderLineFact(
                line_id=line_id, order_id=order_id, product_id=product_id, user_id=user_id,
                quantity=quantity, price=price, placed_at=placed_at,
            )

    def order_lines_since(self, since: dt.datetime | None = None) -> Iterator[OrderLineFact]:
        queryset = self._lines()
        if since is not None:
            queryset = queryset.filter(order__date_placed__gte=since)
        return self._line_values(queryset)

    def weekly_sales(self, since: dt.datetime | None, until: dt.datetime) -> Iterator[WeeklySales]:
        """Lines placed in [``since``, ``until``) with a positive quantity and price, summed per product and week
        by the database; revenue is the line price (excl. tax where Oscar has it)."""
        queryset = self._lines().filter(order__date_placed__lt=until, quantity__gt=0)
        if since is not None:
            queryset = queryset.filter(order__date_placed__gte=since)
        line_price = Coalesce("line_price_excl_tax", "line_price_incl_tax")
        rows = (
            queryset.annotate(_week=week_of(queryset, "order__date_placed", since, until), _price=line_price)
            .filter(_price__gt=0)
            .values_list("product_id", "_week")
            .annotate(
                units=models.Sum("quantity"), revenue=models.Sum("_price"), lines=models.Count("pk"),
                customers=models.Count("order__user_id", distinct=True),
            )
            .order_by()
        )
        for product_id, week, units, revenue, lines, customers in rows.iterator(chunk_size=5000):
            yield WeeklySales(product_id, week_monday(week), int(units), Decimal(revenue), lines, customers)

    def order_lines_of(self, order: models.Model) -> list[OrderLineFact]:
        return list(self._line_values(self._lines().filter(order=order)))

    def non_sale_line_count(self, since: dt.datetime | None = None) -> int:
        """How many lines placed ``since`` are left out for their order's non-sale status."""
        statuses = list(oscar_settings()["NON_SALE_STATUSES"] or [])
        if not statuses:
            return 0
        queryset = self._model("order", "Line")._default_manager.filter(order__status__in=statuses)
        if since is not None:
            queryset = queryset.filter(order__date_placed__gte=since)
        return queryset.count()

    def last_order_at(self) -> dt.datetime | None:
        """When the latest order was placed (None: no order yet)."""
        orders = self._model("order", "Order")._default_manager
        return orders.aggregate(latest=models.Max("date_placed"))["latest"]

    def order_lines_by_id(self, line_ids: list[int]) -> list[OrderLineFact]:
        return list(self._line_values(self._lines().filter(pk__in=line_ids)))

    # --- writing ----------------------------------------------------------------------------
    def _record_or_fail(self, product: models.Model) -> Any:
        record = self._stockrecord(product)
        if record is None:
            raise ValueError(f"Product {product.pk} has no stock record that Oscar's strategy would sell from.")
        return record

    def set_price(self, product: models.Model, price: Decimal) -> None:
        """Write ``price`` to the stock record the strategy sells the product from."""
        record = self._record_or_fail(product)
        with transaction.atomic():
            type(record)._default_manager.filter(pk=record.pk).update(price=price)
        record.price = price
        self._forget(product)

    def adjust_stock(self, product: models.Model, delta: int) -> None:
        """Add ``delta`` units (negative removes, never below 0) to the stock record's ``num_in_stock``."""
        record = self._record_or_fail(product)
        manager = type(record)._default_manager
        manager.filter(pk=record.pk).update(
            num_in_stock=Greatest(Coalesce(models.F("num_in_stock"), 0) + int(delta), 0)
        )
        record.num_in_stock = manager.filter(pk=record.pk).values_list("num_in_stock", flat=True).first()
        self._forget(product)

    @staticmethod
    def _forget(product: models.Model) -> None:
        if hasattr(product, _INFO_ATTRIBUTE):
            delattr(product, _INFO_ATTRIBUTE)
        # a prefetched or cached stock record list would hand the strategy the old values
        getattr(product, "_prefetched_objects_cache", {}).pop("stockrecords", None)
