"""Features of (user, candidate item) pairs for the hybrid's learned ranker.

Everything is computed from one :class:`Interactions` at its ``now``: the user's own history of the
item (count, recency, decayed score, days since the last purchase against the user's usual gap
between orders), the user's activity, the item's popularity and its trend, price, and the user's
affinity to the item's category. The candidate models' scores and ranks are added by the hybrid.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .base import SECONDS_PER_DAY, Interactions

PAIR_FEATURES = (
    "hist_days", "hist_decay_14", "hist_decay_60", "hist_decay_180", "hist_last_age", "hist_first_age",
    "hist_qty_log", "hist_gap_mean", "hist_due_item", "hist_due_user", "hist_share",
    "hist_days_90", "hist_p_window",
)
USER_FEATURES = ("u_days", "u_items", "u_last_age", "u_first_age", "u_gap_median", "u_days_30", "u_days_90",
                 "u_basket")
ITEM_FEATURES = (
    "i_buyers_7", "i_buyers_30", "i_buyers_90", "i_buyers_all", "i_trend_7_30", "i_trend_30_90", "i_age",
    "i_price_log", "i_rebuy_rate", "i_rebuy_gap",
)
MIXED_FEATURES = ("cat_affinity", "cat_days", "price_vs_user")
BASE_FEATURES = PAIR_FEATURES + USER_FEATURES + ITEM_FEATURES + MIXED_FEATURES


def _gap_stats(keys: np.ndarray, days: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Per key: number of distinct days and the mean gap between consecutive distinct days (NaN if one)."""
    frame = pd.DataFrame({"k": keys, "d": days}).drop_duplicates().sort_values(["k", "d"])
    frame["gap"] = frame.groupby("k")["d"].diff()
    grouped = frame.groupby("k")
    count = np.zeros(n)
    mean_gap = np.full(n, np.nan)
    count[grouped.size().index.to_numpy()] = grouped.size().to_numpy()
    gaps = grouped["gap"].mean()
    mean_gap[gaps.index.to_numpy()] = gaps.to_numpy()
    return count, mean_gap


@dataclass
class FeatureContext:
    """Statistics of one interaction set, ready to turn (user, item) pairs into feature rows."""

    n_users: int
    n_items: int
    pair_keys: np.ndarray
    pair_values: np.ndarray
    user_values: np.ndarray
    item_values: np.ndarray
    user_category: np.ndarray
    user_category_days: np.ndarray
    item_category: np.ndarray
    user_log_price: np.ndarray

    @classmethod
    def build(cls, data: Interactions) -> FeatureContext:
        """Compute every statistic once (a few seconds on the full retail data)."""
        if data.timestamps is None or data.now is None:
            raise ValueError("the hybrid's features need timestamps")
        n_users, n_items = data.n_users, data.n_items
        age = data.age_days()
        day = np.floor((data.now - data.timestamps) / SECONDS_PER_DAY).astype(np.int64)
        qty = data.quantities if data.quantities is not None else np.ones(len(data))

        # --- user x item history
        keys = data.user_ids * n_items + data.item_ids
        frame = pd.DataFrame({"k": keys, "age": age, "day": -day, "q": qty})
        for hl in (14, 60, 180):
            frame[f"d{hl}"] = np.power(0.5, age / hl)
        g = frame.groupby("k")
        agg = pd.DataFrame({
            "last": g["age"].min(), "first": g["age"].max(), "qty": g["q"].sum(),
            "d14": g["d14"].sum(), "d60": g["d60"].sum(), "d180": g["d180"].sum(),
        })
        pair_keys = agg.index.to_numpy(dtype=np.int64)
        inverse = np.searchsorted(pair_keys, keys)
        days_count, gap_mean = _gap_stats(inverse, -day, pair_keys.size)
        recent90 = age < 90
        days_90, _ = _gap_stats(inverse[recent90], -day[recent90], pair_keys.size)

        # --- users
        u_days, u_gap = _gap_stats(data.user_ids, -day, n_users)
        u_frame = pd.DataFrame({"u": data.user_ids, "age": age, "day": day})
        ug = u_frame.groupby("u")
        user_values = np.full((n_users, len(USER_FEATURES)), np.nan)
        user_values[:, 0] = u_days
        items_per_user = np.diff(data.seen().indptr)
        user_values[:, 1] = items_per_user
        last = ug["age"].min()
        first = ug["age"].max()
        user_values[last.index.to_numpy(), 2] = last.to_numpy()
        user_values[first.index.to_numpy(), 3] = first.to_numpy()
        user_values[:, 4] = u_gap
        for col, window in ((5, 30), (6, 90)):
            recent = u_frame[u_frame["age"] < window].drop_duplicates(["u", "day"]).groupby("u").size()
            user_values[:, col] = 0.0
            user_values[recent.index.to_numpy(), col] = recent.to_numpy()
        pair_users = pair_keys // n_items
        pair_days_per_user = np.bincount(pair_users, weights=days_count, minlength=n_users)
        with np.errstate(invalid="ignore", divide="ignore"):
            user_values[:, 7] = pair_days_per_user / u_days  # distinct items per order day

        # --- items
        item_values = np.full((n_items, len(ITEM_FEATURES)), np.nan)
        for col, window in ((0, 7), (1, 30), (2, 90), (3, None)):
            mask = np.ones(len(data), dtype=bool) if window is None else age < window
            buyers = pd.Series(keys[mask]).drop_duplicates()
            counts = np.bincount((buyers.to_numpy() % n_items), minlength=n_items).astype(np.float64)
            item_values[:, col] = counts
        item_values[:, 4] = (item_values[:, 0] + 1.0) / (item_values[:, 1] / 30.0 * 7.0 + 1.0)
        item_values[:, 5] = (item_values[:, 1] + 1.0) / (item_values[:, 2] / 3.0 + 1.0)
        first_sale = pd.Series(age).groupby(data.item_ids).max()
        item_values[first_sale.index.to_numpy(), 6] = first_sale.to_numpy()
        features = data.item_features
        if features is not None and features.prices is not None:
            prices = np.asarray(features.prices, dtype=np.float64)
            item_values[:, 7] = np.log(np.where(prices > 0, prices, np.nan))
        pair_items = pair_keys % n_items
        rebuyers = np.bincount(pair_items[days_count >= 2], minlength=n_items).astype(np.float64)
        buyers_all = np.bincount(pair_items, minlength=n_items).astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            item_values[:, 8] = np.where(buyers_all > 0, rebuyers / buyers_all, np.nan)
        rebuy_gap = pd.Series(gap_mean).groupby(pair_items).mean()
        item_values[rebuy_gap.index.to_numpy(), 9] = rebuy_gap.to_numpy()

        # --- categories and prices
        if features is not None:
            item_category, labels = features.category_codes()
        else:
            item_category, labels = np.full(n_items, -1, dtype=np.int64), []
        n_cat = max(1, len(labels))
        cat_of_row = item_category[data.item_ids]
        known = cat_of_row >= 0
        weights = np.power(0.5, age / 60.0)
        user_category = sp.csr_matrix(
            (weights[known], (data.user_ids[known], cat_of_row[known])), shape=(n_users, n_cat)).toarray()
        totals = user_category.sum(axis=1, keepdims=True)
        user_category = np.divide(user_category, totals, out=np.zeros_like(user_category), where=totals > 0)
        cat_days = pd.DataFrame({"u": data.user_ids[known], "c": cat_of_row[known], "d": day[known]})
        cat_days = cat_days.drop_duplicates().groupby(["u", "c"]).size()
        user_category_days = np.zeros((n_users, n_cat))
        if len(cat_days):
            user_category_days[cat_days.index.get_level_values(0), cat_days.index.get_level_values(1)] = \
                cat_days.to_numpy()
        log_price = item_values[:, 7]
        user_log_price = pd.Series(log_price[data.item_ids]).groupby(data.user_ids).mean()
        user_lp = np.full(n_users, np.nan)
        user_lp[user_log_price.index.to_numpy()] = user_log_price.to_numpy()

        pair_values = np.column_stack([
            days_count, agg["d14"].to_numpy(), agg["d60"].to_numpy(), agg["d180"].to_numpy(),
            agg["last"].to_numpy(), agg["first"].to_numpy(), np.log1p(agg["qty"].to_numpy()), gap_mean,
            days_90,
        ])
        return cls(n_users, n_items, pair_keys, pair_values, user_values, item_values, user_category,
                   user_category_days, item_category, user_lp)

    def transform(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Feature rows (in ``BASE_FEATURES`` order) for parallel arrays of users and items."""
        users = np.asarray(users, dtype=np.int64)
        items = np.asarray(items, dtype=np.int64)
        n = users.size
        out = np.full((n, len(BASE_FEATURES)), np.nan)
        keys = users * self.n_items + items
        pos = np.searchsorted(self.pair_keys, keys)
        pos_clipped = np.minimum(pos, max(self.pair_keys.size - 1, 0))
        found = (pos < self.pair_keys.size) & (self.pair_keys[pos_clipped] == keys) if self.pair_keys.size \
            else np.zeros(n, dtype=bool)
        pv = np.full((n, self.pair_values.shape[1]), np.nan)
        pv[found] = self.pair_values[pos_clipped[found]]
        # Never bought: counts and decayed scores are 0, ages and gaps stay NaN.
        for col in (0, 1, 2, 3, 6):
            pv[~found, col] = 0.0
        known_user = users < self.n_users
        uv = np.full((n, len(USER_FEATURES)), np.nan)
        uv[known_user] = self.user_values[users[known_user]]
        pv[~found, 8] = 0.0
        out[:, 0:8] = pv[:, 0:8]
        with np.errstate(invalid="ignore", divide="ignore"):
            out[:, 8] = pv[:, 4] / pv[:, 7]                      # days since last / own gap for this item
            out[:, 9] = pv[:, 4] / uv[:, 4]                      # days since last / user's usual gap
            out[:, 10] = pv[:, 0] / uv[:, 0]                     # share of the user's order days
            out[:, 11] = pv[:, 8]
            # Chance of at least one purchase in the next 30 days if each order holds the item with the
            # probability seen over the last 90 days, and the user orders at the pace of the last 90.
            share_90 = np.clip(pv[:, 8] / np.maximum(uv[:, 6], 1.0), 0.0, 1.0)
            out[:, 12] = 1.0 - np.power(1.0 - share_90, uv[:, 6] / 3.0)
        start = len(PAIR_FEATURES)
        out[:, start:start + len(USER_FEATURES)] = uv
        start += len(USER_FEATURES)
        out[:, start:start + len(ITEM_FEATURES)] = self.item_values[items]
        start += len(ITEM_FEATURES)
        cats = self.item_category[items]
        has_cat = (cats >= 0) & known_user
        out[:, start] = 0.0
        out[:, start + 1] = 0.0
        out[has_cat, start] = self.user_category[users[has_cat], cats[has_cat]]
        out[has_cat, start + 1] = self.user_category_days[users[has_cat], cats[has_cat]]
        user_lp = np.full(n, np.nan)
        user_lp[known_user] = self.user_log_price[users[known_user]]
        out[:, start + 2] = self.item_values[items, 7] - user_lp
        return out
