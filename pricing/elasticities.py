"""Fit price elasticities from the shop's order history and keep them as a registry model version.

The order lines come through the shop adapter; :func:`pricing.ml.demand_data.weekly_demand_panel`
turns them into weekly units against the tier-adjusted list-price level, and
:class:`pricing.ml.ElasticityEstimator` pools the products within their categories. The fitted
arrays are stored as one ``.npz`` (no pickles) on a ``ModelVersion`` of kind ``pricing.elasticity``.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from django.utils import timezone

from personalization.host import clock, get_product_model
from personalization.host.adapters import get_adapter
from personalization.host.threads import limited_threads
from personalization.models import ModelVersion
from personalization.ops import registry

from .conf import pricing_settings
from .ml.demand_data import weekly_demand_panel
from .ml.elasticity import ElasticityEstimator

logger = logging.getLogger(__name__)
MODEL_KIND = "pricing.elasticity"
_ARRAYS = (
    "coef_",
    "coef_cov_",
    "reference_price_",
    "period_center_",
    "category_mean_",
    "category_var_",
    "tau2_",
    "dispersion_",
    "category_",
    "n_obs_",
    "price_variation_",
    "prior_mean_",
    "prior_prec_",
)


# What a product sold at comparable prices: the most units of any week, per bin of log(price / reference).
SOLD_BIN_WIDTH = 0.05
SOLD_BINS = 21  # centred on 0: -0.5 .. +0.5
COMPARABLE = 0.05  # prices up to 5 % (in log) below a price are comparable to it


def sold_by_price(price: np.ndarray, units: np.ndarray, weight: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """``(n, SOLD_BINS)``: the most units sold in one week at prices in each bin (``nan``: never priced there)."""
    n = price.shape[0]
    offset = np.log(np.where(price > 0, price, np.nan) / reference[:, None])
    index = np.rint(offset / SOLD_BIN_WIDTH).astype("float") + SOLD_BINS // 2
    ok = (weight > 0) & np.isfinite(index) & (index >= 0) & (index < SOLD_BINS)
    out = np.full((n, SOLD_BINS), np.nan)
    rows, cols = np.nonzero(ok)
    values = units[rows, cols]
    bins = index[rows, cols].astype(np.int64)
    flat = np.full(n * SOLD_BINS, -np.inf)
    np.maximum.at(flat, rows * SOLD_BINS + bins, values)
    flat[~np.isfinite(flat)] = np.nan
    out[:] = flat.reshape(n, SOLD_BINS)
    return out


class NotEnoughData(ValueError):
    """The order history holds no sale to learn from."""


@dataclass(frozen=True)
class FittedElasticities:
    """A loaded elasticity model: the estimator, the product id of each row, and the next week to price."""

    estimator: ElasticityEstimator
    product_ids: np.ndarray
    next_period: float
    version: ModelVersion
    sold_max: np.ndarray | None = None

    def row_of(self) -> dict[int, int]:
        """Product id -> row of the estimator's arrays."""
        return {int(pid): i for i, pid in enumerate(self.product_ids)}

    def most_sold_near(self, row: int, price: float) -> float | None:
        """The most units product ``row`` sold in one week at comparable prices: at ``price`` or up to
        ``COMPARABLE`` below it (lower prices sell more, so this bounds the demand at ``price``); ``None``:
        never priced there, or a model stored before this was recorded."""
        if self.sold_max is None or not price > 0:
            return None
        offset = math.log(price / float(self.estimator.reference_price_[row]))
        centres = (np.arange(SOLD_BINS) - SOLD_BINS // 2) * SOLD_BIN_WIDTH
        half = SOLD_BIN_WIDTH / 2 + 1e-9
        near = (centres >= offset - COMPARABLE - half) & (centres <= offset + half)
        values = self.sold_max[row, near]
        values = values[np.isfinite(values)]
        return float(values.max()) if len(values) else None


def _utc_naive(value: dt.datetime) -> dt.datetime:
    return value.astimezone(dt.UTC).replace(tzinfo=None) if timezone.is_aware(value) else value


def fit_elasticities(*, since: dt.datetime | None = None, activate: bool = True) -> ModelVersion:
    """Fit the elasticity of every product sold since ``since`` (default: the ``PRICING["HISTORY_DAYS"]``
    before the shop's as-of, :mod:`personalization.host.clock`) and up to that as-of.

    Returns the new version (active when ``activate``). Raises :class:`NotEnoughData` when there is
    no sale; a failure while fitting marks the version *failed* and leaves the active one in place.
    """
    adapter = get_adapter()
    rows, deleted = [], 0
    for f in adapter.order_lines_since(since):
        if f.product_id is None:
            deleted += 1
        else:
            rows.append((f.product_id, _utc_naive(f.placed_at), f.quantity, float(f.price)))
    if deleted:
        logger.warning("Elasticities: left out %d order lines whose product was deleted.", deleted)
    frame = pd.DataFrame(rows, columns=["product", "date", "quantity", "unit_price"])
    sales = frame[(frame["quantity"] > 0) & (frame["unit_price"] > 0)] if len(frame) else frame
    # The window ends at the shop's as-of (now, or PERSONALIZATION["REFERENCE_TIME"]), never at the latest
    # sale: one order placed today must not turn years of history into one week.
    end = pd.Timestamp(_utc_naive(clock.reference_time()))
    if not sales.empty:
        sales = sales[sales["date"] <= end]
    if since is None and pricing_settings.HISTORY_DAYS and not sales.empty:
        sales = sales[sales["date"] > end - pd.Timedelta(days=pricing_settings.HISTORY_DAYS)]
    if sales.empty:
        raise NotEnoughData("No order lines with a positive quantity and price to fit elasticities on.")
    params = dict(pricing_settings.ESTIMATOR)
    version = registry.begin(
        MODEL_KIND,
        params,
        data_start=timezone.make_aware(sales["date"].min().to_pydatetime(), dt.UTC),
        data_end=timezone.make_aware(sales["date"].max().to_pydatetime(), dt.UTC),
    )
    try:
        registry.report_progress(version, 10, "Building the weekly demand panel")
        panel = weekly_demand_panel(sales)
        products = get_product_model()._default_manager.in_bulk([int(p) for p in panel.products])
        names = [adapter.get_category(products[int(p)]) if int(p) in products else None for p in panel.products]
        category, _ = pd.factorize(pd.Series(names).fillna(""))
        registry.report_progress(version, 30, f"Fitting {len(panel.products)} products over {len(panel.weeks)} weeks")
        with limited_threads():  # SHOPSENSE_THREADS
            estimator = ElasticityEstimator(**params).fit_panel(
                panel.price, panel.units, periods=panel.periods, category=category, weight=panel.weight
            )
        arrays = {name: getattr(estimator, name) for name in _ARRAYS}
        arrays["product_ids"] = np.asarray(panel.products, dtype=np.int64)
        arrays["sold_max"] = sold_by_price(panel.price, panel.units, panel.weight, estimator.reference_price_)
        meta = {
            "params": {
                k: getattr(estimator, k)
                for k in (
                    "season_length",
                    "harmonics",
                    "trend",
                    "ci",
                    "prior_elasticity",
                    "prior_elasticity_sd",
                    "control_prior_sd",
                    "min_tau",
                    "half_life",
                    "pool",
                    "curvature",
                    "curvature_prior_sd",
                    "eb_rounds",
                    "max_iter",
                    "robust_pool",
                )
            },
            "feature_names": list(estimator.feature_names_),
            "next_period": float(panel.periods[-1] + 1),
            "last_week": panel.weeks[-1].date().isoformat(),
        }
        registry.store_artifact(version, arrays, meta)
        elasticity = estimator.elasticity_
        registry.finish(
            version,
            {
                "products": float(len(elasticity)),
                "weeks": float(len(panel.weeks)),
                "median_elasticity": float(np.median(elasticity)),
                "median_ci_width": float(np.median(estimator.ci_high_ - estimator.ci_low_)),
                "share_elastic": float(np.mean(estimator.ci_high_ < -1.0)),
            },
        )
    except Exception as exc:
        registry.fail(version, exc)
        raise
    if activate:
        registry.promote(version, training_minimums(version))
    return version


def training_minimums(version: ModelVersion) -> list[registry.Minimum]:
    """``PRICING["MIN_TRAINING"]`` (weeks of sales, products) and, against the active version, at least
    half its products and weeks: the fit has no holdout score, so a fit on far less data counts as worse."""
    need = pricing_settings.MIN_TRAINING
    metrics = version.metrics or {}
    minimums = [
        registry.Minimum("weeks of sales", metrics.get("weeks", 0.0), float(need["weeks"]),
                         'PRICING["MIN_TRAINING"]["weeks"]'),
        registry.Minimum("products", metrics.get("products", 0.0), float(need["products"]),
                         'PRICING["MIN_TRAINING"]["products"]'),
    ]
    active = registry.active_version(MODEL_KIND)
    if active is not None and active.pk != version.pk:
        for what, key in (("products", "products"), ("weeks of sales", "weeks")):
            old = float((active.metrics or {}).get(key, 0.0))
            minimums.append(registry.Minimum(what, metrics.get(key, 0.0), old / 2,
                                             f"half of the active {active}'s {old:,.0f}"))
    return minimums


def load_elasticities(version: ModelVersion | None = None) -> FittedElasticities | None:
    """The given version's model, or the active one; ``None`` when no elasticity model is active."""
    version = version or registry.active_version(MODEL_KIND)
    if version is None:
        return None
    arrays = registry.load_artifact(version)
    meta = version.metadata
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.npz"
        payload = {name: arrays[name] for name in _ARRAYS}
        header = {"class": "ElasticityEstimator", "params": meta["params"], "feature_names": meta["feature_names"]}
        np.savez(path, __meta__=np.array(json.dumps(header)), **payload)
        estimator = ElasticityEstimator.load(path)
    return FittedElasticities(
        estimator, arrays["product_ids"], float(meta["next_period"]), version, arrays.get("sold_max")
    )
