"""The content model's documents carry one token per category of an item (several where the shop has them)."""
from __future__ import annotations

import numpy as np
import pytest

from personalization.ml.base import ItemFeatures
from personalization.ml.content import item_documents


def test_every_category_of_an_item_is_a_token_and_the_main_one_is_not_repeated():
    features = ItemFeatures(names=["Lamp", "Mug"], categories=["Home Decor", "Kitchen"],
                            all_categories=[["Home Decor", "Gifts"], []])

    docs = item_documents(features, price_bands=1)

    assert docs == ["Lamp cat_home_decor cat_gifts", "Mug cat_kitchen"]


def test_without_all_categories_the_documents_are_what_they_were():
    one = ItemFeatures(names=["Lamp", "Mug"], categories=["Home Decor", ""], prices=np.array([5.0, 9.0]))
    same = ItemFeatures(names=["Lamp", "Mug"], categories=["Home Decor", ""], prices=np.array([5.0, 9.0]),
                        all_categories=[["Home Decor"], []])

    assert item_documents(one) == item_documents(same)


def test_all_categories_must_have_one_entry_per_item():
    with pytest.raises(ValueError, match="all_categories has 1 entries, names has 2"):
        ItemFeatures(names=["Lamp", "Mug"], all_categories=[["Gifts"]])
