"""RFM quintile scores and named segments; K-means segments with stable ids, words and PCA."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from personalization.ml.rfm import (
    OTHERS,
    SEGMENT_NAMES,
    RFMScorer,
    apply_cuts,
    quintile_scores,
    rfm_segments,
    score_cuts,
)
from personalization.ml.segmentation import CustomerSegmenter, describe_centroid, match_clusters


# --- RFM scores ---------------------------------------------------------------------------------
def test_quintile_scores_split_distinct_values_into_five_equal_groups():
    values = np.arange(100.0)

    scores = quintile_scores(values)

    assert np.bincount(scores)[1:].tolist() == [20, 20, 20, 20, 20]
    assert scores[:20].tolist() == [1] * 20 and scores[-20:].tolist() == [5] * 20


def test_quintile_scores_reversed_give_the_smallest_values_the_top_score():
    scores = quintile_scores([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], reverse=True)

    assert scores.tolist() == [5, 5, 4, 4, 3, 3, 2, 2, 1, 1]


def test_quintile_scores_give_ties_one_score_from_the_share_of_smaller_values():
    # 6 of 10 customers bought once: the share below them is 0, so all score 1; the share below
    # the value 2 is 0.6 -> score 1 + floor(5 * 0.6) = 4
    values = [1, 1, 1, 1, 1, 1, 2, 2, 3, 9]

    scores = quintile_scores(values)

    expected = (1 + np.floor(5 * (pd.Series(values).rank(method="min") - 1) / len(values))).astype(int)
    assert scores.tolist() == expected.tolist() == [1, 1, 1, 1, 1, 1, 4, 4, 5, 5]


def test_stored_cuts_score_new_values_like_the_population_they_came_from():
    # given a population and its cut points
    rng = np.random.default_rng(0)
    population = rng.lognormal(3, 1, 1_000).round(1)
    cuts = score_cuts(population)

    # when the population is scored again through the cuts, and new values beyond its range
    again = apply_cuts(population, cuts)
    outside = apply_cuts([population.min() - 1, population.max() + 1], cuts)

    # then the scores are the population's own, and the new extremes score 1 and 5
    assert again.tolist() == quintile_scores(population).tolist()
    assert outside.tolist() == [1, 5]


@pytest.mark.parametrize(
    "scores, expected",
    [
        ((5, 5, 5), "Champions"),
        ((4, 5, 5), "Potential Loyalist"),
        ((3, 3, 2), "Potential Loyalist"),
        ((2, 3, 3), "Loyal Customers"),
        ((4, 2, 2), "Loyal Customers"),
        ((3, 1, 3), "Promising"),
        ((5, 1, 1), "New Customers"),
        ((4, 3, 1), "New Customers"),
        ((2, 3, 5), "Can't Lose Them"),
        ((1, 5, 5), "At Risk"),
        ((1, 3, 3), "Need Attention"),
        ((2, 1, 1), "About To Sleep"),
        ((3, 2, 1), "About To Sleep"),
        ((1, 1, 1), "Lost"),
        ((1, 2, 3), "Lost"),
        ((2, 5, 1), OTHERS),
        ((3, 5, 1), OTHERS),
    ],
)
def test_segments_follow_the_rfm_package_rules_first_match_wins(scores, expected):
    r, f, m = scores

    assert rfm_segments([r], [f], [m]).tolist() == [expected]


def test_every_named_segment_is_reachable_and_all_125_score_triples_get_a_name():
    r, f, m = np.meshgrid(np.arange(1, 6), np.arange(1, 6), np.arange(1, 6), indexing="ij")

    names = rfm_segments(r.ravel(), f.ravel(), m.ravel())

    assert set(names) == set(SEGMENT_NAMES)


def test_rfm_scorer_scores_recency_reversed_and_names_segments():
    # given five customers, the most recent one also the most frequent and the biggest spender
    recency_days = [1, 10, 50, 100, 300]
    frequency = [20, 8, 4, 2, 1]
    monetary = [5000.0, 800.0, 300.0, 90.0, 20.0]

    # when scored
    scorer = RFMScorer().fit(recency_days, frequency, monetary)
    r, f, m = scorer.transform(recency_days, frequency, monetary)

    # then scores run 5..1 on every axis, and the ends are a Champion and a Lost customer
    assert r.tolist() == f.tolist() == m.tolist() == [5, 4, 3, 2, 1]
    segments = scorer.segment(recency_days, frequency, monetary).tolist()
    assert segments[0] == "Champions" and segments[-1] == "Lost"
    restored = RFMScorer.from_cuts(scorer.cuts_as_lists())
    assert restored.segment(recency_days, frequency, monetary).tolist() == segments


# --- K-means segments ---------------------------------------------------------------------------
def _blobs(centres, n_per, seed=0, spread=0.3):
    rng = np.random.default_rng(seed)
    return np.vstack([rng.normal(centre, spread, size=(n_per, len(centre))) for centre in centres])


CENTRES = [(0.0, 0.0, 0.0), (6.0, 0.0, 1.0), (0.0, 6.0, -1.0), (6.0, 6.0, 4.0)]


@pytest.mark.parametrize("k", [2, 3, 4])
def test_segmenter_chooses_the_number_of_blobs_by_silhouette(k):
    X = _blobs(CENTRES[:k], 150)

    model = CustomerSegmenter(k_range=(2, 6), random_state=0).fit(X)

    assert model.k_ == k
    assert model.silhouette_ == max(model.silhouette_by_k_.values())
    assert sorted(model.silhouette_by_k_) == [2, 3, 4, 5, 6]
    assert sorted(np.bincount(model.labels_).tolist()) == [150] * k


def test_segmenter_keeps_cluster_ids_across_rebuilds_with_new_data():
    # given a first run on four blobs
    first = CustomerSegmenter(k_range=(2, 6), random_state=0).fit(_blobs(CENTRES, 150, seed=1))
    id_of_blob = {blob: int(first.predict([centre])[0]) for blob, centre in enumerate(CENTRES)}

    # when the next run sees new customers from the same blobs, in another order and other sizes
    X = _blobs(CENTRES[::-1], 100, seed=2)
    X = np.vstack([X, _blobs([CENTRES[0]], 200, seed=3)])
    second = CustomerSegmenter(k_range=(2, 6), random_state=1).fit(X, first.centroids(), first.cluster_ids_.tolist())

    # then each blob keeps its id
    assert {blob: int(second.predict([centre])[0]) for blob, centre in enumerate(CENTRES)} == id_of_blob


def test_match_clusters_gives_fresh_ids_to_clusters_without_a_close_predecessor():
    previous = np.array([[0.0, 0.0], [10.0, 10.0]])
    new = np.array([[10.2, 9.9], [50.0, 50.0], [0.1, -0.1]])

    ids = match_clusters(new, previous, [4, 7], max_distance=2.0)

    assert ids.tolist() == [7, 8, 4]


def test_segmenter_projects_onto_two_principal_components_and_restores_from_state():
    X = _blobs(CENTRES, 100, seed=4)
    model = CustomerSegmenter(k_range=(2, 5)).fit(X)

    restored = CustomerSegmenter.from_state(model.state())

    assert model.projection_.shape == (400, 2)
    assert model.explained_variance_ratio_[0] >= model.explained_variance_ratio_[1] > 0
    assert sum(model.explained_variance_ratio_) <= 1.0 + 1e-9
    np.testing.assert_allclose(restored.project(X), model.projection_)
    assert restored.predict(X).tolist() == model.labels_.tolist()


@pytest.mark.parametrize("n_rows", [1, 2])
def test_segmenter_puts_too_few_customers_in_one_cluster(n_rows):
    model = CustomerSegmenter().fit(np.arange(n_rows * 3, dtype=float).reshape(n_rows, 3))

    assert (model.k_, model.labels_.tolist(), model.silhouette_) == (1, [0] * n_rows, None)


WORDS = {
    "basket_units": ("large baskets", "small baskets"),
    "orders": ("frequent", "one-off"),
    "revenue": ("high value", "low value"),
}


@pytest.mark.parametrize(
    "z, expected",
    [
        ([2.0, 1.2, 0.8], "large baskets, frequent, high value"),
        ([-0.2, -1.5, 0.6], "one-off, high value"),
        ([0.1, 0.2, -0.3], "typical customers"),
        ([0.0, 0.0, -3.0], "low value"),
    ],
)
def test_describe_centroid_names_the_strongest_deviations_first(z, expected):
    assert describe_centroid(z, ["basket_units", "orders", "revenue"], WORDS) == expected
