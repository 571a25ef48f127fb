"""The served forecasting configuration (inventory.ml.served): what the benchmark scores is what the shop runs."""

from __future__ import annotations

import pytest

from inventory.ml import served
from inventory.ml.ensemble import EnsembleForecaster
from inventory.ml.selector import ClassSelector


def test_the_served_selector_offers_the_configured_candidates_with_pytorch() -> None:
    selector = served.served_selector(with_torch=True)

    assert isinstance(selector, ClassSelector)
    assert tuple(selector.candidates) == served.SELECTOR_CANDIDATES[0]
    assert selector.point_factors == served.POINT_FACTORS


def test_without_pytorch_the_served_selector_leaves_the_mlp_out() -> None:
    selector = served.served_selector(with_torch=False)

    assert tuple(selector.candidates) == served.SELECTOR_CANDIDATES[1]
    for cand in selector.candidates.values():
        members = cand.members if isinstance(cand, EnsembleForecaster) else {}
        assert "MLP" not in members


def test_gbm_overrides_reach_every_gbm_of_the_selector() -> None:
    # given an override of the GBM's number of trees
    candidates = served.served_candidates(with_torch=False, gbm_overrides={"max_iter": 7})
    # then the GBM and the ensembles' GBM members carry it, the other settings stay the served ones
    assert candidates["GBM"].max_iter == 7
    assert candidates["GBM"].point_loss == served.GBM_PARAMS["point_loss"]
    assert candidates["GBM+Theta+IMAPA"].members["GBM"].max_iter == 7


def test_a_development_override_names_the_candidates() -> None:
    selector = served.served_selector(with_torch=False, candidates=("IMAPA", "GBM"), point_factors=(1.0, 1.1))

    assert tuple(selector.candidates) == ("IMAPA", "GBM")
    assert selector.point_factors == (1.0, 1.1)


def test_an_unbuildable_candidate_set_is_refused() -> None:
    with pytest.raises(ValueError, match="can be built"):
        served.served_selector(with_torch=False, candidates=("MLP",))
