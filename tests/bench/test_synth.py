"""bench/synth.py: the seeded synthetic shop is reproducible, keeps its spec and reads like the real file."""
from __future__ import annotations

import numpy as np
import pytest

from bench import synth
from personalization.ml import evaluation

TINY = {"n_products": 2_000, "n_customers": 3_000, "n_lines": 40_000, "days": 120}


@pytest.fixture(scope="module")
def retail():
    return synth.generate(synth.PRESETS["retail-small-baskets"].scaled(**TINY), seed=3)


def test_the_same_seed_gives_the_same_lines_and_another_seed_others(retail):
    again = synth.generate(retail.spec, seed=3)
    other = synth.generate(retail.spec, seed=4)

    assert np.array_equal(again.product, retail.product) and np.array_equal(again.timestamp, retail.timestamp)
    assert not np.array_equal(other.product[:1000], retail.product[:1000])


def test_small_baskets_a_long_tail_repeat_buyers_and_guests(retail):
    figures = synth.describe(retail)
    _, sizes = np.unique(retail.invoice, return_counts=True)

    assert TINY["n_lines"] <= len(retail) < TINY["n_lines"] + 40
    assert sizes.min() >= 5 and sizes.max() <= 40 and 10 <= sizes.mean() <= 14
    assert 0.2 < figures["top_1pct_share"] < 0.8 and figures["products_sold"] < TINY["n_products"]
    assert 0.1 < figures["guest_share"] < 0.2 and figures["cancel_share"] == 0
    known = retail.customer >= 0
    pairs = np.unique(retail.customer[known] * TINY["n_products"] + retail.product[known], return_counts=True)[1]
    assert (pairs > 1).sum() / pairs.size > 0.1  # customers buy some products again
    assert np.all(np.diff(retail.timestamp.astype("int64")) >= 0)


def test_seasonality_and_promotions_show_in_the_lines():
    spec = synth.PRESETS["retail-small-baskets"].scaled(**{**TINY, "days": 365}, promotions=52, promo_discount=0.5)
    shop = synth.generate(spec, seed=0)
    month = shop.timestamp.astype("datetime64[M]").astype(int) % 12

    assert (month == 10).sum() > 1.4 * (month == 4).sum()  # November against May
    regular = shop.catalogue.price[shop.product]
    assert ((shop.price < regular - 1e-9).mean()) > 0.01  # some lines sold at the promotion price


def test_wholesale_has_large_baskets_packs_and_cancellations():
    shop = synth.generate(synth.PRESETS["wholesale"].scaled(n_lines=30_000), seed=0)
    _, sizes = np.unique(shop.invoice[~shop.cancelled], return_counts=True)

    assert sizes.max() > 60 and set(np.unique(shop.quantity[shop.quantity > 0])) <= set(synth.WHOLESALE_PACKS)
    assert 0.01 < shop.cancelled.mean() < 0.03 and (shop.quantity[shop.cancelled] < 0).all()


def test_the_csv_reads_like_online_retail_ii(retail, tmp_path):
    path = synth.write_csv(retail, tmp_path / "shop.csv.gz", chunk=7_000)
    raw = evaluation.read_online_retail(str(path))
    clean = evaluation.clean_online_retail(raw)

    assert list(raw.columns) == synth.COLUMNS and len(raw) == len(retail)
    assert len(clean) == int((retail.customer >= 0).sum())  # every known customer's line is a product line
    assert clean["item"].nunique() == np.unique(retail.product[retail.customer >= 0]).size
    interactions = synth.to_interactions(retail)
    assert interactions.n_items == TINY["n_products"] and interactions.user_ids.size == len(clean)


def test_the_codes_stay_product_codes_past_90000_products():
    codes = synth.Catalogue(np.zeros(3, np.int32), np.ones(3), np.ones(3) / 3, np.zeros(0, np.int32),
                            np.array([0, 3])).stock_codes
    assert list(codes) == ["10000", "10001", "10002"] and synth._letters(27) == "AA"
    assert synth._letters(1) == "A" and synth._letters(0) == ""


def test_a_bad_spec_is_refused():
    with pytest.raises(ValueError, match="basket_min"):
        synth.generate(synth.PRESETS["wholesale"].scaled(basket_min=50, basket_mean=20), seed=0)
