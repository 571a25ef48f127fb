"""The pricing app's settings: ``PRICING = {...}`` in the host's settings overrides single keys of ``DEFAULTS``.

Read lazily through :data:`pricing_settings` (reloaded on ``setting_changed``, so ``override_settings``
works in tests).
"""

from __future__ import annotations

from typing import Any

from personalization.host.conf import AppSettings

PRICING_DEFAULTS: dict[str, Any] = {
    # Circuit breaker used until a shop owner saves the pricing settings row in the admin.
    "BREAKER_MAX_CHANGE": 0.25,
    # Days of order history the nightly elasticity fit reads (None: everything).
    "HISTORY_DAYS": 730,
    # A refit goes live only when trained on at least this much (and on at least half the products and
    # weeks of the active version); otherwise the active one stays and no suggestion is expired or written.
    "MIN_TRAINING": {"weeks": 8, "products": 1},
    # Days after which a pending suggestion expires when a newer one is generated.
    "SUGGESTION_TTL_DAYS": 7,
    # Weeks the markdown strategy wants the stock to last (sell-through horizon).
    "MARKDOWN_HORIZON_WEEKS": 8,
    # Days before a price reduction whose lowest price is the "prior price" (EU Omnibus directive).
    "PRIOR_PRICE_DAYS": 30,
    # Estimator hyperparameters passed to pricing.ml.ElasticityEstimator.
    "ESTIMATOR": {"curvature": True, "harmonics": 2},
    "RANDOM_STATE": 0,
    # No optimiser suggestion unless its expected weekly profit gain clears both: an amount in the shop's
    # currency, and a share of the expected weekly profit at the current price.
    "MIN_GAIN_ABSOLUTE": 1.0,
    "MIN_GAIN_RELATIVE": 0.01,
    "LOCK_SECONDS": 3_600,
    # Record a price the host changes itself (its admin, a shell, an import) in the price history.
    "TRACK_OUTSIDE_CHANGES": True,
}

pricing_settings = AppSettings("PRICING", PRICING_DEFAULTS)
