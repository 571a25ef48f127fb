"""Content-based recommendations: TF-IDF over product text, category and price band."""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .base import Interactions, ItemFeatures, Recommender, as_interactions, user_rows


def item_documents(features: ItemFeatures, price_bands: int = 5) -> list[str]:
    """One text document per item: name, description, a token per category and a price-band token."""
    n = features.n_items
    docs = []
    bands = np.full(n, -1, dtype=np.int64)
    if features.prices is not None and price_bands > 1:
        prices = np.asarray(features.prices, dtype=np.float64)
        valid = np.isfinite(prices) & (prices > 0)
        if valid.any():
            edges = np.quantile(np.log(prices[valid]), np.linspace(0, 1, price_bands + 1)[1:-1])
            bands[valid] = np.searchsorted(edges, np.log(prices[valid]), side="right")
    for i in range(n):
        parts = [str(features.names[i])]
        if features.descriptions is not None:
            parts.append(str(features.descriptions[i]))
        categories = [features.categories[i]] if features.categories is not None and features.categories[i] else []
        if features.all_categories is not None:
            categories += [c for c in features.all_categories[i] if c and c not in categories]
        parts.extend("cat_" + "_".join(str(c).lower().split()) for c in categories)
        if bands[i] >= 0:
            parts.append(f"priceband_{bands[i]}")
        docs.append(" ".join(parts))
    return docs


class ContentBased(Recommender):
    """Scores items by cosine between their TF-IDF vector and the user's profile, the (time-decayed)
    sum of the vectors of the items they bought. Needs ``item_features``; it covers items nobody has
    bought yet, which collaborative models cannot.
    """

    _state_attrs = ("item_vectors_", "user_profiles_", "n_users_", "n_items_")

    def __init__(self, half_life_days: float | None = 60.0, ngram_max: int = 2, min_df: int = 1,
                 price_bands: int = 5, random_state: int | None = None) -> None:
        self.half_life_days = half_life_days
        self.ngram_max = ngram_max
        self.min_df = min_df
        self.price_bands = price_bands
        self.random_state = random_state

    def fit(self, interactions: Interactions | sp.spmatrix) -> ContentBased:
        from sklearn.feature_extraction.text import TfidfVectorizer

        data = as_interactions(interactions)
        if data.item_features is None:
            raise ValueError("ContentBased needs Interactions with item_features")
        docs = item_documents(data.item_features, self.price_bands)
        vectorizer = TfidfVectorizer(ngram_range=(1, self.ngram_max), min_df=self.min_df,
                                     token_pattern=r"(?u)\b[\w\-]+\b", sublinear_tf=True, dtype=np.float32)
        vectors = sp.csr_matrix(vectorizer.fit_transform(docs), dtype=np.float32)  # rows are L2-normalised
        history = data.to_csr(weights=data.decay_weights(self.half_life_days)).astype(np.float32)
        profiles = sp.csr_matrix(history @ vectors)
        norms = np.sqrt(np.asarray(profiles.multiply(profiles).sum(axis=1)).ravel())
        norms[norms == 0] = 1.0
        self.user_profiles_ = sp.csr_matrix(sp.diags(1.0 / norms) @ profiles, dtype=np.float32)
        self.item_vectors_ = vectors
        self.n_users_ = data.n_users
        self.n_items_ = data.n_items
        return self

    def _score_users(self, user_ids: np.ndarray) -> np.ndarray:
        return np.asarray((user_rows(self.user_profiles_, user_ids) @ self.item_vectors_.T).todense(),
                          dtype=np.float64)
