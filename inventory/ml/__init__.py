"""Django-free demand forecasting and replenishment for the inventory app.

* :mod:`.demand` — demand panels from transactions (weekly / daily), series selection, ADI/CV² classes;
* :mod:`.base` — the forecaster contract (``fit(history) -> self``, ``predict(horizon, quantiles)``);
* :mod:`.local` — statsforecast models per series (TSB, IMAPA, ADIDA, ETS, Theta, the anchors);
* :mod:`.gbm` / :mod:`.torch_mlp` — global models on :mod:`.features` (the MLP imports torch lazily);
* :mod:`.selector` — per-demand-class choice by rolling-origin backtest;
* :mod:`.served` — the served configuration (candidates, settings) that the benchmark and the planner share;
* :mod:`.metrics` — WAPE, MASE, bias, pinball loss, coverage;
* :mod:`.policy` — safety stock, reorder points, order-up-to, EOQ, rounding, exceptions;
* :mod:`.simulation` — replenishment simulation on real daily demand and its policies.
"""
