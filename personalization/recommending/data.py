"""What the recommenders learn from: purchases from the Event log and the host catalogue (via the adapter).

The service owns the id maps: users and products get contiguous positions (``user_pks[i]`` is the
user of position ``i``), which is what every ``personalization.ml`` model works on.
"""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..host import get_product_model
from ..host.adapters import get_adapter
from ..host.conf import personalization_settings
from ..ml.base import Interactions, ItemFeatures
from ..models import Event, EventType

logger = logging.getLogger(__name__)
OTHER_CATEGORY = "Other"


def related_path(field_path: str | None) -> str | None:
    """The first relation of a ``"a__b"`` product field path (for ``select_related``), if any."""
    if not field_path:
        return None
    first = field_path.split("__")[0]
    try:
        field = get_product_model()._meta.get_field(first)
    except Exception:  # noqa: BLE001 - a computed attribute, not a field
        return None
    return first if field.is_relation else None


def product_queryset():  # type: ignore[no-untyped-def]
    """Every product with what the adapter reads for categories joined in."""
    queryset = get_product_model()._default_manager.all()
    relation = related_path(personalization_settings.PRODUCT_FIELDS.get("category"))
    return queryset.select_related(relation) if relation else queryset


ITEM_COLUMNS = ["item", "name", "category", "categories", "price", "active"]


def item_table() -> pd.DataFrame:
    """One row per product of the catalogue: ``item`` (pk), ``name``, ``category`` (the main one),
    ``categories`` (all of them, a list), ``price``, ``active``."""
    adapter = get_adapter()
    rows = []
    batch: list = []

    def add(products: list) -> None:
        categories = adapter.categories_of(products)
        for product in products:
            rows.append({
                "item": product.pk,
                "name": adapter.get_name(product),
                "category": adapter.get_category(product) or OTHER_CATEGORY,
                "categories": categories.get(product.pk, []),
                "price": float(adapter.get_price(product)),
                "active": bool(adapter.is_active(product)),
            })

    for product in product_queryset().order_by("pk").iterator(chunk_size=2000):
        batch.append(product)
        if len(batch) == 2000:
            add(batch)
            batch = []
    add(batch)
    return pd.DataFrame(rows, columns=ITEM_COLUMNS)


def purchase_frame(since: dt.datetime | None = None, until: dt.datetime | None = None) -> pd.DataFrame:
    """Purchase events of signed-in customers: columns ``user``, ``item``, ``timestamp``, ``quantity``,
    ``price`` (the protocol's transaction frame; ``timestamp`` naive UTC). Purchases of deleted products
    are left out (and counted in the log); guests' purchases are no customer's."""
    queryset = Event.objects.filter(event_type=EventType.PURCHASE, user__isnull=False)
    if since is not None:
        queryset = queryset.filter(timestamp__gte=since)
    if until is not None:
        queryset = queryset.filter(timestamp__lt=until)
    deleted = queryset.filter(product__isnull=True).count()
    if deleted:
        logger.warning("Training data: left out %d purchases whose product was deleted.", deleted)
    queryset = queryset.filter(product__isnull=False)
    rows = list(queryset.order_by().values_list("user_id", "product_id", "timestamp", "quantity", "price")
                .iterator(chunk_size=20_000))
    frame = pd.DataFrame.from_records(rows, columns=["user", "item", "timestamp", "quantity", "price"])
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True).dt.tz_localize(None)
    frame["price"] = frame["price"].astype(float).fillna(0.0)
    frame["quantity"] = frame["quantity"].astype(float)
    return frame


@dataclass
class TrainingData:
    """Purchases as :class:`Interactions` with the maps back to the shop's primary keys."""

    interactions: Interactions
    user_pks: np.ndarray
    product_pks: np.ndarray
    items: pd.DataFrame  # item_table(), aligned with product_pks
    start: dt.datetime | None
    end: dt.datetime | None

    def product_index(self) -> dict[int, int]:
        return {int(pk): i for i, pk in enumerate(self.product_pks)}


def item_features(items: pd.DataFrame) -> ItemFeatures:
    """Names, categories and prices of ``items`` for the content model and the hybrid's features."""
    return ItemFeatures(names=items["name"].astype(str).tolist(), categories=items["category"].astype(str).tolist(),
                        prices=items["price"].astype(float).to_numpy(),
                        all_categories=items["categories"].tolist() if "categories" in items else None)


def build_training_data(frame: pd.DataFrame, items: pd.DataFrame) -> TrainingData:
    """Contiguous ids over every customer who bought and every product in the catalogue."""
    items = items.sort_values("item").reset_index(drop=True)
    product_pks = items["item"].to_numpy(dtype=np.int64)
    frame = frame[frame["item"].isin(product_pks)]
    user_pks = np.array(sorted(frame["user"].unique()), dtype=np.int64)
    timestamps = frame["timestamp"].to_numpy(dtype="datetime64[s]")
    interactions = Interactions(
        user_ids=pd.Index(user_pks).get_indexer(frame["user"]),
        item_ids=pd.Index(product_pks).get_indexer(frame["item"]),
        n_users=int(user_pks.size), n_items=int(product_pks.size),
        timestamps=timestamps, quantities=frame["quantity"].to_numpy(dtype=np.float64),
        item_features=item_features(items),
    )
    start = end = None
    if len(frame):
        start = frame["timestamp"].min().to_pydatetime().replace(tzinfo=dt.UTC)
        end = frame["timestamp"].max().to_pydatetime().replace(tzinfo=dt.UTC)
    return TrainingData(interactions, user_pks, product_pks, items, start, end)
