"""PROTOCOL §1 evaluation: metrics against hand-computed cases, cleaning rules, and the split."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from personalization.ml import evaluation as ev


def test_recall_divides_hits_by_the_smaller_of_k_and_the_relevant_count() -> None:
    # given two users: 1 hit of 2 relevant items, and 2 hits of 30 relevant items, k = 20
    ranked = np.array([[5, 1, 2], [7, 8, 9]])
    relevant = [np.array([1, 4]), np.arange(8, 38)]
    # when Recall@20 is computed
    value = ev.recall_at_k(ranked, relevant, k=20)
    # then it is the mean of 1/2 and 2/20
    assert value == pytest.approx((1 / 2 + 2 / 20) / 2)


def test_ndcg_uses_binary_gains_and_the_ideal_of_min_k_relevant() -> None:
    # given one user with hits at ranks 2 and 3 out of 3 relevant items, another with no hit
    ranked = np.array([[9, 1, 2, 8], [9, 8, 7, 6]])
    relevant = [np.array([1, 2, 3]), np.array([0])]
    # when NDCG@4 is computed
    value = ev.ndcg_at_k(ranked, relevant, k=4)
    # then user 1 scores (1/log2 3 + 1/log2 4) / (1 + 1/log2 3 + 1/log2 4), user 2 scores 0
    dcg = 1 / np.log2(3) + 1 / np.log2(4)
    idcg = 1 + 1 / np.log2(3) + 1 / np.log2(4)
    assert value == pytest.approx(dcg / idcg / 2)


def test_perfect_ranking_has_ndcg_one() -> None:
    # given every relevant item at the top
    ranked = np.array([[3, 4, 0, 1]])
    # when NDCG@2 is computed for 5 relevant items (ideal: 2 hits)
    value = ev.ndcg_at_k(ranked, [np.array([3, 4, 5, 6, 7])], k=2)
    # then it is exactly 1
    assert value == pytest.approx(1.0)


def test_hit_rate_counts_users_with_a_hit_in_the_top_k_only() -> None:
    # given a hit at rank 1, a hit only at rank 3, and no hit
    ranked = np.array([[1, 9, 9], [9, 8, 2], [7, 6, 5]])
    relevant = [np.array([1]), np.array([2]), np.array([0])]
    # when HR@2 is computed
    # then one user in three counts
    assert ev.hit_rate_at_k(ranked, relevant, k=2) == pytest.approx(1 / 3)


def test_padding_ids_never_count_as_hits_and_coverage_counts_distinct_items() -> None:
    # given lists padded with -1 (and -1 nowhere relevant)
    ranked = np.array([[0, 1, -1], [1, 2, -1]])
    # when coverage over a 10-item catalogue and recall are computed
    cov = ev.coverage(ranked, n_items=10, k=3)
    recall = ev.recall_at_k(ranked, [np.array([5]), np.array([5])], k=3)
    # then 3 distinct items cover 30% and there are no hits
    assert cov == pytest.approx(0.3)
    assert recall == 0.0


def _raw(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate",
                                       "UnitPrice", "CustomerID", "Country"])


@pytest.mark.parametrize(
    ("row", "kept"),
    [
        (("1", "85123a", "HEART", 2, "2011-01-01 10:00", 2.5, 17850.0, "UK"), True),
        (("C1", "85123A", "HEART", 2, "2011-01-01 10:00", 2.5, 17850.0, "UK"), False),   # cancellation
        (("A1", "85123A", "HEART", 2, "2011-01-01 10:00", 2.5, 17850.0, "UK"), False),   # bad debt
        (("1", "85123A", "HEART", 0, "2011-01-01 10:00", 2.5, 17850.0, "UK"), False),    # quantity
        (("1", "85123A", "HEART", 2, "2011-01-01 10:00", 0.0, 17850.0, "UK"), False),    # price
        (("1", "85123A", "HEART", 2, "2011-01-01 10:00", 2.5, None, "UK"), False),       # no customer
        (("1", "POST", "POSTAGE", 1, "2011-01-01 10:00", 18.0, 17850.0, "UK"), False),   # not a product
        (("1", "8512", "SHORT", 1, "2011-01-01 10:00", 1.0, 17850.0, "UK"), False),      # 4 digits only
    ],
)
def test_cleaning_rules(row: tuple, kept: bool) -> None:
    # given one raw row
    # when the protocol's cleaning runs
    clean = ev.clean_online_retail(_raw([row]))
    # then it is kept or dropped, and a kept stock code is upper-cased
    assert len(clean) == int(kept)
    if kept:
        assert clean["item"].tolist() == ["85123A"] and clean["user"].tolist() == [17850]


def _transactions(rows: list[tuple[int, str, str]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["user", "item", "timestamp"])
    frame["timestamp"] = pd.to_datetime(frame["timestamp"])
    frame["quantity"] = 1
    frame["price"] = 1.0
    frame["description"] = "THING " + frame["item"]
    return frame


def test_split_users_catalogue_and_tasks_follow_the_protocol() -> None:
    # given purchases before, inside and after a 30-day test window starting 2011-11-09
    tx = _transactions([
        (1, "A", "2011-10-01"), (1, "A", "2011-11-10"), (1, "B", "2011-11-11"),   # re-buy A, new B
        (2, "A", "2011-10-02"), (2, "A", "2011-11-20"),                             # re-buy only
        (3, "C", "2011-10-03"),                                                     # nothing in test
        (4, "D", "2011-11-12"),                                                     # no train history
        (5, "E", "2011-11-01"), (5, "F", "2011-12-09"),                             # F after the window
    ])
    # when the split is made
    split = ev.make_split(tx, "2011-11-09")
    # then the catalogue holds what sold before the window's end (D is first sold inside it, F after)
    assert split.items.tolist() == ["A", "B", "C", "D", "E"]
    users = split.users.tolist()
    assert [users[u] for u in split.eval_users["all"]] == [1, 2]
    assert [users[u] for u in split.eval_users["new"]] == [1]
    items = split.items.tolist()
    assert [[items[i] for i in rel] for rel in split.relevant["all"]] == [["A", "B"], ["A"]]
    assert [[items[i] for i in rel] for rel in split.relevant["new"]] == [["B"]]
    assert split.exclude_for("all") is None
    assert split.exclude_for("new")[users.index(1)].indices.tolist() == [items.index("A")]


def test_evaluate_new_task_removes_train_purchases_from_the_ranking() -> None:
    # given the split above and a model that ranks the user's own past item first
    from personalization.ml.repeat import RepeatPurchase

    tx = _transactions([(1, "A", "2011-10-01"), (1, "B", "2011-11-11"), (2, "B", "2011-10-05")])
    split = ev.make_split(tx, "2011-11-09")
    model = RepeatPurchase().fit(split.train)
    # when task new is evaluated
    result = ev.evaluate(model, split, "new")
    # then A is excluded, B (the relevant one) ranks first: everything is perfect
    assert result["users"] == 1.0
    assert result["ndcg@20"] == pytest.approx(1.0)
    assert result["hr@10"] == 1.0


def test_unknown_task_is_refused() -> None:
    tx = _transactions([(1, "A", "2011-10-01"), (1, "B", "2011-11-11")])
    split = ev.make_split(tx, "2011-11-09")
    with pytest.raises(ValueError, match="unknown task"):
        split.exclude_for("everything")


@pytest.mark.parametrize(
    ("name", "category"),
    [("WHITE HANGING HEART T-LIGHT HOLDER", "Candles & lights"), ("JUMBO BAG RED RETROSPOT", "Bags & purses"),
     ("PAPER CHAIN KIT 50'S CHRISTMAS", "Christmas"), ("SOMETHING ELSE", "Other")],
)
def test_categorize_by_keyword(name: str, category: str) -> None:
    assert ev.categorize(name) == category
