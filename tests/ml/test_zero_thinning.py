"""Zero-target training rows thinned with their weight raised (inventory.ml.features.thin_zero_targets),
and the global models' ``zero_keep`` setting that uses it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

from inventory.ml.features import thin_zero_targets
from inventory.ml.gbm import GlobalGBMForecaster
from inventory.ml.torch_mlp import GlobalMLPForecaster
from tests.ml.test_forecast_contract import HORIZON, make_panel


def _rows(n: int = 4_000, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    target = np.where(rng.random(n) < 0.6, 0.0, rng.gamma(2.0, 1.0, n))
    return pd.DataFrame({"f": rng.random(n), "_target": target, "_scale": rng.gamma(1.0, 5.0, n) + 0.1})


def test_keep_one_keeps_every_row_with_its_scale_as_weight() -> None:
    rows = _rows()
    out = thin_zero_targets(rows.copy(), 1.0, 0)
    assert len(out) == len(rows)
    np.testing.assert_array_equal(out["_weight"].to_numpy(), rows["_scale"].to_numpy())


def test_a_share_of_the_zero_rows_is_kept_with_its_weight_divided_by_the_share() -> None:
    rows = _rows()
    zero = rows["_target"] == 0
    out = thin_zero_targets(rows.copy(), 0.5, 0)
    kept_zero = out[out["_target"] == 0]
    # every selling row stays, at its own weight
    nonzero = out[out["_target"] != 0]
    assert len(nonzero) == (~zero).sum()
    np.testing.assert_array_equal(nonzero["_weight"].to_numpy(), nonzero["_scale"].to_numpy())
    # about half of the zero rows stay, each at twice its weight: the zero rows' total weight is kept in expectation
    assert 0.45 < len(kept_zero) / zero.sum() < 0.55
    np.testing.assert_allclose(kept_zero["_weight"].to_numpy(), 2 * kept_zero["_scale"].to_numpy())
    assert kept_zero["_weight"].sum() == pytest.approx(rows.loc[zero, "_scale"].sum(), rel=0.1)


def test_the_thinning_is_seeded() -> None:
    rows = _rows()
    first, again = thin_zero_targets(rows.copy(), 0.5, 3), thin_zero_targets(rows.copy(), 0.5, 3)
    other = thin_zero_targets(rows.copy(), 0.5, 4)
    pd.testing.assert_frame_equal(first, again)
    assert not first["f"].equals(other["f"])


@pytest.mark.parametrize("keep", [0.0, -0.5, 1.5])
def test_a_share_outside_zero_to_one_is_refused(keep: float) -> None:
    with pytest.raises(ValueError, match="zero_keep"):
        thin_zero_targets(_rows(), keep, 0)


@pytest.mark.parametrize("model", [
    GlobalGBMForecaster(horizon=HORIZON, max_iter=15, min_samples_leaf=5, train_window=12),
    GlobalMLPForecaster(horizon=HORIZON, hidden=(16,), epochs=5, batch_size=64, train_window=12, device="cpu"),
], ids=["gbm", "mlp"])
def test_the_global_models_train_on_fewer_rows_and_still_forecast_every_series(model) -> None:
    history = make_panel("intermittent", n_series=10)
    with threadpool_limits(1):
        full = model.set_params(zero_keep=1.0).fit(history)
        n_full = full.n_train_rows_
        thinned = model.set_params(zero_keep=0.5).fit(history)
        fc = thinned.predict(HORIZON)
    assert thinned.n_train_rows_ < n_full
    assert fc["unique_id"].nunique() == 10 and len(fc) == 10 * HORIZON
    assert np.isfinite(fc[["mean", "q50", "q90"]].to_numpy()).all()
