"""Reading shop facts and writing prices back, through one adapter class named in settings.

The apps never touch the host's product or order fields directly: they ask the adapter named in
``PERSONALIZATION["SHOP_ADAPTER"]``. ``DefaultShopAdapter`` reads the field names configured in
``PRODUCT_FIELDS`` / ``ORDER_FIELDS`` / ``ORDER_LINE_FIELDS``; a shop whose data lives elsewhere
(an ERP, computed prices) subclasses it or writes its own class satisfying ``ShopAdapter``.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol, runtime_checkable

from django.db import models, transaction
from django.db.models import Q
from django.db.models.functions import TruncWeek

from . import get_order_line_model, get_order_model, get_product_model
from .conf import personalization_settings


@dataclass(frozen=True)
class OrderLineFact:
    """One sold line of a host order, in the shape the apps consume.

    ``product_id`` is None when the host deleted the product but kept the line (django-oscar does);
    ``user_id`` is None for a guest's order and for a deleted customer's.
    """

    line_id: int
    order_id: int
    product_id: int | None
    user_id: int | None
    quantity: int
    price: Decimal
    placed_at: dt.datetime


@dataclass(frozen=True)
class WeeklySales:
    """Sold lines of one product in one Monday-to-Sunday week (``week``: its Monday in the current time zone),
    summed by the database: units, revenue (Σ quantity × unit price), lines and distinct customers (guests
    not counted). ``product_id`` is None for the lines of deleted products (all of them, in one row per week)."""

    product_id: int | None
    week: dt.date
    units: int
    revenue: Decimal
    lines: int
    customers: int


def week_monday(value: dt.datetime | dt.date) -> dt.date:
    """The Monday a ``TruncWeek`` (or :func:`week_of`) value names, as a date in the current time zone."""
    from django.utils import timezone

    if isinstance(value, dt.datetime):
        value = timezone.localtime(value) if timezone.is_aware(value) else value
        return value.date()
    return value


#: Above this many weeks, :func:`week_of` leaves SQLite's TruncWeek in place (each boundary is a query parameter).
MAX_CASE_WEEKS = 2_000


def week_of(queryset: models.QuerySet, field: str, since: dt.datetime | None, until: dt.datetime) -> models.Expression:
    """An expression for the week (Monday, current time zone) of ``field`` in rows of ``queryset`` placed in
    [``since``, ``until``): ``TruncWeek(field)``, except on SQLite, whose TruncWeek calls a Python function on every
    row (15 of the demo's 22 seconds of reading its two years of sales): there a CASE over the weeks' first
    instants, computed here in the time zone, chooses the Monday in SQL. The weeks are the same either way
    (``tests/apps/test_demand_panel.py``)."""
    from django.db import connections
    from django.utils import timezone

    if connections[queryset.db].vendor != "sqlite":
        return TruncWeek(field)
    first = since or queryset.aggregate(first=models.Min(field))["first"]
    if first is None or first >= until:
        return TruncWeek(field)
    tz = timezone.get_current_timezone()
    monday = timezone.localtime(first, tz).date()
    monday -= dt.timedelta(days=monday.weekday())
    mondays, starts = [], []
    while not starts or starts[-1] < until:  # the last start is at or after ``until``: it closes the last week
        mondays.append(monday)
        starts.append(timezone.make_aware(dt.datetime.combine(monday, dt.time.min), tz))
        monday += dt.timedelta(days=7)
    if len(mondays) > MAX_CASE_WEEKS:
        return TruncWeek(field)

    def weeks(lo: int, hi: int) -> models.Expression:  # the weeks lo .. hi - 1, by halves
        if hi - lo == 1:
            return models.Value(mondays[lo], output_field=models.DateField())
        mid = (lo + hi) // 2
        return models.Case(models.When(**{f"{field}__lt": starts[mid]}, then=weeks(lo, mid)),
                           default=weeks(mid, hi), output_field=models.DateField())

    return weeks(0, len(mondays) - 1)


@runtime_checkable
class ShopAdapter(Protocol):
    """What the apps need to know about (and write to) the host's catalogue and orders."""

    def get_price(self, product: models.Model) -> Decimal: ...
    def get_unit_cost(self, product: models.Model) -> Decimal | None: ...
    def get_stock(self, product: models.Model) -> int: ...
    def get_on_order(self, product: models.Model) -> int: ...
    def get_category(self, product: models.Model) -> str | None: ...
    def get_categories(self, product: models.Model) -> list[str]: ...
    def categories_of(self, products: Iterable[models.Model]) -> dict[Any, list[str]]: ...
    def get_name(self, product: models.Model) -> str: ...
    def get_text(self, product: models.Model) -> str: ...
    def is_active(self, product: models.Model) -> bool: ...
    def is_available(self, product: models.Model) -> bool: ...
    def active_products(self) -> models.QuerySet: ...
    def available_products(self) -> models.QuerySet: ...
    def order_lines_since(self, since: dt.datetime | None = None) -> Iterator[OrderLineFact]: ...
    def weekly_sales(self, since: dt.datetime | None, until: dt.datetime) -> Iterator[WeeklySales]: ...
    def order_lines_of(self, order: models.Model) -> list[OrderLineFact]: ...
    def order_lines_by_id(self, line_ids: list[int]) -> list[OrderLineFact]: ...
    def non_sale_line_count(self, since: dt.datetime | None = None) -> int: ...
    def last_order_at(self) -> dt.datetime | None: ...
    def set_price(self, product: models.Model, price: Decimal) -> None: ...
    def adjust_stock(self, product: models.Model, delta: int) -> None: ...


def _resolve(obj: Any, path: str | None) -> Any:
    """Follow a ``"a__b"`` path of attributes; ``None`` when the path or a link is missing."""
    if not path:
        return None
    for part in path.split("__"):
        if obj is None:
            return None
        obj = getattr(obj, part)
    return obj


class DefaultShopAdapter:
    """Reads shop facts from the field names configured in the ``PERSONALIZATION`` settings."""

    @property
    def product_fields(self) -> dict[str, str | None]:
        return personalization_settings.PRODUCT_FIELDS

    @property
    def order_fields(self) -> dict[str, str | None]:
        return personalization_settings.ORDER_FIELDS

    @property
    def line_fields(self) -> dict[str, str | None]:
        return personalization_settings.ORDER_LINE_FIELDS

    # --- products ---------------------------------------------------------------------------
    def get_price(self, product: models.Model) -> Decimal:
        return Decimal(_resolve(product, self.product_fields["price"]))

    def get_unit_cost(self, product: models.Model) -> Decimal | None:
        value = _resolve(product, self.product_fields.get("unit_cost"))
        return None if value is None else Decimal(value)

    def get_stock(self, product: models.Model) -> int:
        value = _resolve(product, self.product_fields.get("stock"))
        return int(value or 0)

    def get_on_order(self, product: models.Model) -> int:
        value = _resolve(product, self.product_fields.get("on_order"))
        return int(value or 0)

    def get_category(self, product: models.Model) -> str | None:
        value = _resolve(product, self.product_fields.get("category"))
        return None if value is None else str(value)

    def get_categories(self, product: models.Model) -> list[str]:
        """All the product's categories (by name), ``[]`` when it has none.

        With ``PRODUCT_FIELDS["categories"]`` (a to-many lookup such as ``"categories__name"``) one query;
        without it, the single ``category``.
        """
        return self.categories_of([product]).get(product.pk, [])

    def categories_of(self, products: Iterable[models.Model]) -> dict[Any, list[str]]:
        """:meth:`get_categories` of many products at once (one query per 2,000 with a to-many lookup)."""
        products = list(products)
        path = self.product_fields.get("categories")
        if not path:
            return {p.pk: [c] if (c := self.get_category(p)) else [] for p in products}
        found: dict[Any, list[str]] = {p.pk: [] for p in products}
        ids = list(found)
        manager = get_product_model()._default_manager
        for start in range(0, len(ids), 2_000):
            rows = manager.filter(pk__in=ids[start:start + 2_000]).order_by().values_list("pk", path)
            for pk, name in rows:
                if name is not None and str(name) not in found[pk]:
                    found[pk].append(str(name))
        return {pk: sorted(names) for pk, names in found.items()}

    def get_name(self, product: models.Model) -> str:
        """The product's name as shoppers see it (``PRODUCT_FIELDS["name"]``, else ``str(product)``)."""
        value = _resolve(product, self.product_fields.get("name"))
        return str(value) if value else str(product)

    def get_text(self, product: models.Model) -> str:
        parts = [_resolve(product, self.product_fields.get(key)) for key in ("name", "description", "category")]
        return " ".join(str(part).strip() for part in parts if part)

    def is_active(self, product: models.Model) -> bool:
        field = self.product_fields.get("active")
        return True if not field else bool(_resolve(product, field))

    def is_available(self, product: models.Model) -> bool:
        """Active and, when the shop tracks stock (``PRODUCT_FIELDS["stock"]``), in stock: may be recommended."""
        return self.is_active(product) and (not self.product_fields.get("stock") or self.get_stock(product) > 0)

    def active_products(self) -> models.QuerySet:
        queryset = get_product_model()._default_manager.all()
        field = self.product_fields.get("active")
        return queryset.filter(**{field: True}) if field else queryset

    def available_products(self) -> models.QuerySet:
        """The products :meth:`is_available` says yes to, as one queryset."""
        stock = self.product_fields.get("stock")
        return self.active_products().filter(**{f"{stock}__gt": 0}) if stock else self.active_products()

    # --- orders -----------------------------------------------------------------------------
    def _non_sale(self) -> Q | None:
        """Order lines of orders in a ``NON_SALE_ORDER_STATUSES`` status (None: every order is a sale)."""
        status = self.order_fields.get("status")
        excluded = [str(s) for s in personalization_settings.NON_SALE_ORDER_STATUSES or ()]
        if not status or not excluded:
            return None
        lookup = f"{self.line_fields['order']}__{status}__iexact"
        no_sale = Q()
        for value in excluded:
            no_sale |= Q(**{lookup: value})
        return no_sale

    def _sales(self, queryset: models.QuerySet) -> models.QuerySet:
        no_sale = self._non_sale()
        return queryset if no_sale is None else queryset.exclude(no_sale)

    def _line_values(self, queryset: models.QuerySet) -> Iterator[OrderLineFact]:
        queryset = self._sales(queryset)
        order = self.line_fields["order"]
        lookups = {
            "line_id": "pk",
            "order_id": order,
            "product_id": self.line_fields["product"],
            "user_id": f"{order}__{self.order_fields['user']}",
            "quantity": self.line_fields["quantity"],
            "price": self.line_fields["price"],
            "placed_at": f"{order}__{self.order_fields['placed_at']}",
        }
        rows = queryset.order_by(lookups["placed_at"], "pk").values_list(*lookups.values())
        for row in rows.iterator(chunk_size=5000):
            values = dict(zip(lookups, row, strict=True))
            values["price"] = Decimal(values["price"])
            yield OrderLineFact(**values)

    def _lines_since(self, since: dt.datetime | None) -> models.QuerySet:
        queryset = get_order_line_model()._default_manager.all()
        if since is not None:
            placed_at = f"{self.line_fields['order']}__{self.order_fields['placed_at']}"
            queryset = queryset.filter(**{f"{placed_at}__gte": since})
        return queryset

    def order_lines_since(self, since: dt.datetime | None = None) -> Iterator[OrderLineFact]:
        """Every sold line placed ``since`` (all when None), oldest first, read as value rows in chunks."""
        return self._line_values(self._lines_since(since))

    def weekly_sales(self, since: dt.datetime | None, until: dt.datetime) -> Iterator[WeeklySales]:
        """The sold lines placed in [``since``, ``until``) with a positive quantity and price, summed per product
        and week by the database (one GROUP BY; see :class:`WeeklySales`), in no particular order."""
        order, qty, price = self.line_fields["order"], self.line_fields["quantity"], self.line_fields["price"]
        placed_at = f"{order}__{self.order_fields['placed_at']}"
        queryset = self._sales(self._lines_since(since)).filter(
            **{f"{placed_at}__lt": until, f"{qty}__gt": 0, f"{price}__gt": 0}
        )
        rows = (
            queryset.annotate(_week=week_of(queryset, placed_at, since, until))
            .values_list(self.line_fields["product"], "_week")
            .annotate(
                units=models.Sum(qty),
                revenue=models.Sum(models.F(qty) * models.F(price), output_field=models.DecimalField()),
                lines=models.Count("pk"),
                customers=models.Count(f"{order}__{self.order_fields['user']}", distinct=True),
            )
            .order_by()
        )
        for product_id, week, units, revenue, lines, customers in rows.iterator(chunk_size=5000):
            yield WeeklySales(product_id, week_monday(week), int(units), Decimal(revenue), lines, customers)

    def last_order_at(self) -> dt.datetime | None:
        """When the latest order was placed (None: no order yet)."""
        field = self.order_fields["placed_at"]
        return get_order_model()._default_manager.aggregate(latest=models.Max(field))["latest"]

    def non_sale_line_count(self, since: dt.datetime | None = None) -> int:
        """How many lines placed ``since`` the status setting leaves out (orders that are no sale)."""
        no_sale = self._non_sale()
        return 0 if no_sale is None else self._lines_since(since).filter(no_sale).count()

    def order_lines_of(self, order: models.Model) -> list[OrderLineFact]:
        queryset = get_order_line_model()._default_manager.filter(**{self.line_fields["order"]: order})
        return list(self._line_values(queryset))

    def order_lines_by_id(self, line_ids: list[int]) -> list[OrderLineFact]:
        return list(self._line_values(get_order_line_model()._default_manager.filter(pk__in=line_ids)))

    # --- writing ----------------------------------------------------------------------------
    def set_price(self, product: models.Model, price: Decimal) -> None:
        field = self.product_fields["price"]
        if not field or "__" in field:
            raise NotImplementedError("The default adapter writes prices only to a field on the product itself.")
        with transaction.atomic():
            type(product)._default_manager.filter(pk=product.pk).update(**{field: price})
            setattr(product, field, price)

    def adjust_stock(self, product: models.Model, delta: int) -> None:
        """Add ``delta`` units (negative removes) to the stock on hand, atomically in the database."""
        field = self.product_fields.get("stock")
        if not field or "__" in field:
            raise NotImplementedError("The default adapter writes stock only to a field on the product itself.")
        manager = type(product)._default_manager
        manager.filter(pk=product.pk).update(**{field: models.F(field) + int(delta)})
        setattr(product, field, manager.filter(pk=product.pk).values_list(field, flat=True).first())


def get_adapter() -> ShopAdapter:
    """An instance of the adapter class named in ``PERSONALIZATION["SHOP_ADAPTER"]``."""
    return personalization_settings.SHOP_ADAPTER()
