"""Optional PyTorch global forecaster: a small MLP on the gradient-boosting features.

Same rows and scaled targets as :class:`inventory.ml.gbm.GlobalGBMForecaster` (see
:mod:`inventory.ml.features`); one network with a head per output — the mean (squared error) and each
quantile level (pinball loss) — trained jointly, rows weighted by the series scale. Quantile heads are
parameterised as non-negative increments, so q50 <= q90 by construction. ``torch`` is imported only
when the model is fitted; ``device="auto"`` uses CUDA when available, else CPU.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from .base import check_predict_args, finalize_forecast, infer_freq_days, prepare_history, quantile_column
from .features import GlobalForecaster, design_rows, feature_columns, thin_zero_targets, to_matrix


class GlobalMLPForecaster(GlobalForecaster):
    """Global direct multi-horizon MLP with mean and quantile heads (PyTorch, CPU or CUDA).

    Parameters
    ----------
    horizon, quantiles, train_window, min_nonzero, target_cap, windows, n_lags, zero_keep: as in the GBM model.
    hidden: sizes of the hidden layers.
    epochs, batch_size, learning_rate, weight_decay, dropout: training.
    device: ``"auto"``, ``"cpu"`` or ``"cuda"``.
    random_state: seeds torch and the batch order (results are deterministic on CPU).
    """

    def __init__(
        self,
        horizon: int = 4,
        quantiles: Sequence[float] = (0.5, 0.9),
        train_window: int = 26,
        min_nonzero: int = 4,
        target_cap: float = 20.0,
        windows: tuple[int, ...] = (4, 8, 13, 26, 52),
        n_lags: int = 8,
        zero_keep: float = 1.0,
        hidden: tuple[int, ...] = (128, 64),
        epochs: int = 8,
        batch_size: int = 1024,
        learning_rate: float = 2e-3,
        weight_decay: float = 1e-5,
        dropout: float = 0.1,
        device: str = "auto",
        random_state: int | None = 0,
    ) -> None:
        self.horizon = horizon
        self.quantiles = quantiles
        self.train_window = train_window
        self.min_nonzero = min_nonzero
        self.target_cap = target_cap
        self.windows = windows
        self.n_lags = n_lags
        self.zero_keep = zero_keep
        self.hidden = hidden
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.dropout = dropout
        self.device = device
        self.random_state = random_state

    def _device(self) -> Any:
        import torch

        if self.device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        if self.device == "cuda" and not torch.cuda.is_available():
            raise RuntimeError("device='cuda' but CUDA is not available")
        return torch.device(self.device)

    def _inputs(self, rows: pd.DataFrame) -> np.ndarray:
        x = rows[self.feature_names_].to_numpy(dtype=np.float64)
        missing = np.isnan(x).astype(np.float32)
        x = np.clip((np.nan_to_num(x, nan=0.0) - self.x_mean_) / self.x_std_, -8.0, 8.0)
        return np.concatenate([x.astype(np.float32), missing[:, self.has_missing_]], axis=1)

    def fit(self, history: pd.DataFrame) -> GlobalMLPForecaster:
        """Build rows as the GBM does and train the network with mean + pinball losses."""
        import torch
        from torch import nn

        h = prepare_history(history)
        self.freq_days_ = infer_freq_days(h)
        pm = to_matrix(h, self.freq_days_)
        n_buckets = len(pm.buckets)
        rows = design_rows(pm, list(range(max(n_buckets - self.train_window, 4), n_buckets)), self.horizon,
                           self.windows, self.n_lags, self.min_nonzero)
        rows = rows[rows["_target"].notna()].reset_index(drop=True)
        if rows.empty:
            raise ValueError("history too short for the global model: no training rows")
        rows = thin_zero_targets(rows, self.zero_keep, self.random_state)
        self.feature_names_ = feature_columns(rows)
        raw = rows[self.feature_names_].to_numpy(dtype=np.float64)
        self.x_mean_ = np.nanmean(np.where(np.isnan(raw), np.nan, raw), axis=0)
        self.x_mean_ = np.nan_to_num(self.x_mean_)
        self.x_std_ = np.nan_to_num(np.nanstd(raw, axis=0), nan=1.0)
        self.x_std_[self.x_std_ < 1e-6] = 1.0
        self.has_missing_ = np.isnan(raw).any(axis=0)
        x = self._inputs(rows)
        y = np.minimum(rows["_target"].to_numpy(dtype=np.float32), self.target_cap).astype(np.float32)
        w = rows["_weight"].to_numpy(dtype=np.float32)
        w = w / w.mean()

        torch.manual_seed(0 if self.random_state is None else self.random_state)
        device = self._device()
        layers: list[nn.Module] = []
        width = x.shape[1]
        for size in self.hidden:
            layers += [nn.Linear(width, size), nn.ReLU(), nn.Dropout(self.dropout)]
            width = size
        n_out = 1 + len(self.quantiles)
        layers.append(nn.Linear(width, n_out))
        net = nn.Sequential(*layers).to(device)
        opt = torch.optim.AdamW(net.parameters(), lr=self.learning_rate, weight_decay=self.weight_decay)
        taus = torch.tensor(sorted(self.quantiles), dtype=torch.float32, device=device)
        xt, yt, wt = (torch.from_numpy(a).to(device) for a in (x, y, w))
        gen = torch.Generator().manual_seed(0 if self.random_state is None else self.random_state)
        steps_per_epoch = max(len(x) // self.batch_size, 1)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=self.learning_rate,
                                                    total_steps=self.epochs * steps_per_epoch)
        net.train()
        for _ in range(self.epochs):
            perm = torch.randperm(len(x), generator=gen).to(device)
            for b in range(steps_per_epoch):
                idx = perm[b * self.batch_size:(b + 1) * self.batch_size]
                out = self._heads(net(xt[idx]))
                target, weight = yt[idx], wt[idx]
                loss = (weight * (out[:, 0] - target) ** 2).mean() * 0.1
                if len(taus):
                    diff = target[:, None] - out[:, 1:]
                    pin = torch.maximum(taus * diff, (taus - 1) * diff)
                    loss = loss + (weight[:, None] * pin).mean()
                opt.zero_grad()
                loss.backward()
                opt.step()
                sched.step()
        net.eval()
        self.device_ = str(device)  # where it trained ("cuda:0" on a GPU worker)
        self.net_ = net.to("cpu")
        self.matrix_ = pm
        self.ids_ = pm.ids
        self.n_train_rows_ = len(rows)
        return self

    @staticmethod
    def _heads(raw: Any) -> Any:
        import torch
        from torch.nn import functional as F  # noqa: N812

        mean = F.softplus(raw[:, :1])
        if raw.shape[1] == 1:
            return mean
        q = torch.cumsum(torch.cat([F.softplus(raw[:, 1:2]), F.softplus(raw[:, 2:])], dim=1), dim=1)
        return torch.cat([mean, q], dim=1)

    def predict(self, horizon: int, quantiles: Sequence[float] = (0.5, 0.9)) -> pd.DataFrame:
        """Forecast ``horizon`` steps after the fitted history."""
        import torch

        self._check_fitted()
        check_predict_args(horizon, quantiles)
        if horizon > self.horizon:
            raise ValueError(f"this model was trained for horizon {self.horizon}, asked for {horizon}")
        trained = [quantile_column(t) for t in sorted(self.quantiles)]
        unknown = [t for t in quantiles if quantile_column(t) not in trained]
        if unknown:
            raise ValueError(f"quantiles {unknown} were not trained; fit with quantiles={tuple(quantiles)}")
        pm = self.matrix_
        rows = design_rows(pm, [len(pm.buckets)], int(horizon), self.windows, self.n_lags, 0, with_target=False)
        with torch.no_grad():
            out = self._heads(self.net_(torch.from_numpy(self._inputs(rows)))).numpy()
        scale = rows["_scale"].to_numpy()
        fc = pd.DataFrame({"unique_id": pm.ids[rows["_series"].to_numpy()], "step": rows["step"].astype(int)})
        fc["mean"] = out[:, 0] * scale
        for j, col in enumerate(trained):
            fc[col] = out[:, 1 + j] * scale
        return finalize_forecast(fc, quantiles)
