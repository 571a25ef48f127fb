"""Fit several forecasters at once in worker processes, one thread each.

The served selector fits its candidate three times (two backtest windows and the final fit), and the
candidate is an average of four models. Those fits are independent, so :func:`fit_all` runs them in
``n_jobs`` processes (joblib's loky backend), each process with one OpenMP / BLAS / PyTorch thread: on a
machine with few cores that keeps every core busy without the threads of one library spinning against
each other (what a thread per core does as soon as another job shares the machine). An
:class:`~inventory.ml.ensemble.EnsembleForecaster` is split into its members so the work balances; the
fitted models are the same as fitting them in turn with one thread.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd
from sklearn.base import clone

from .base import Forecaster
from .ensemble import EnsembleForecaster

#: Longest first, so two workers finish together (measured: the GBM ~40 s, the MLP ~25 s, local models ~5 s).
#: A local model's work happens when it forecasts (statsforecast fits and forecasts in one call), so with a
#: ``horizon`` the workers forecast too: otherwise that work would wait, in turn, in the calling process.
_COST_RANK = {"GlobalGBMForecaster": 0, "GlobalMLPForecaster": 1}
#: Relative cost of one fit, for progress estimates (measured on the demo data, one thread; anything else: 1).
FIT_COST = {"GlobalGBMForecaster": 8.0, "GlobalMLPForecaster": 6.0}

#: ``progress(done, total, label)``: called after each fit with the cost done so far, the whole cost
#: (:data:`FIT_COST` units) and what was just fitted.
FitProgress = Callable[[float, float, str], None]


class Fitted(NamedTuple):
    """A fitted forecaster and, when :func:`fit_all` was given a horizon, its forecast (else None)."""

    model: Forecaster
    forecast: pd.DataFrame | None


def fit_cost(model: Forecaster) -> float:
    """The relative cost of fitting ``model`` (an ensemble: its members')."""
    if isinstance(model, EnsembleForecaster) and model.members:
        return sum(fit_cost(m) for m in model.members.values())
    return FIT_COST.get(type(model).__name__, 1.0)


def _fit_one(model: Forecaster, history: pd.DataFrame, forecast: tuple[int, tuple[float, ...]] | None) -> Fitted:
    """Fit (and with ``forecast = (horizon, quantiles)`` forecast) in a worker with one thread per library; the
    worker's warnings are dropped, as the caller drops its own (a worker's would be printed to stderr, not
    raised where the caller can filter them)."""
    import warnings

    from threadpoolctl import threadpool_limits

    warnings.simplefilter("ignore")

    try:
        import torch
    except ImportError:  # the MLP is optional
        torch = None
    if torch is not None:
        torch.set_num_threads(1)
    with threadpool_limits(limits=1):
        return _fit_predict(model, history, forecast)


def _fit_predict(model: Forecaster, history: pd.DataFrame, forecast: tuple[int, tuple[float, ...]] | None) -> Fitted:
    fitted = model.fit(history)
    return Fitted(fitted, None if forecast is None else fitted.predict(*forecast))


def fit_all(
    tasks: Sequence[tuple[Forecaster, pd.DataFrame]],
    n_jobs: int,
    labels: Sequence[str] | None = None,
    progress: FitProgress | None = None,
    horizon: int | None = None,
    quantiles: Sequence[float] = (0.5, 0.9),
) -> list[Fitted]:
    """Clone and fit each ``(forecaster, history)``; ``n_jobs`` processes (1: in this process, in turn).
    ``labels`` name the tasks in the ``progress`` calls (one after each fit, see :data:`FitProgress`). With a
    ``horizon``, each fitted model's ``predict(horizon, quantiles)`` is made where it was fitted and returned
    with it (the same frame as calling it afterwards); else the forecasts are None."""
    forecast = None if horizon is None else (int(horizon), tuple(quantiles))
    jobs: list[tuple[int, str | None, Forecaster, pd.DataFrame]] = []
    for i, (model, history) in enumerate(tasks):
        if isinstance(model, EnsembleForecaster) and model.members:
            jobs += [(i, name, clone(member), history) for name, member in model.members.items()]
        else:
            jobs.append((i, None, clone(model), history))
    order = sorted(range(len(jobs)), key=lambda k: (_COST_RANK.get(type(jobs[k][2]).__name__, 2), k))
    total = sum(fit_cost(job[2]) for job in jobs)
    done_cost = 0.0

    def fitted_one(k: int) -> None:
        nonlocal done_cost
        done_cost += fit_cost(jobs[k][2])
        if progress is not None:
            owner, member = jobs[k][0], jobs[k][1]
            label = labels[owner] if labels is not None else f"fit {owner + 1}"
            progress(done_cost, total, f"{label}: {member}" if member else label)

    fitted: dict[int, Fitted] = {}
    if n_jobs > 1 and len(jobs) > 1:
        from joblib import Parallel, delayed

        done = Parallel(n_jobs=n_jobs, backend="loky", inner_max_num_threads=1, return_as="generator")(
            delayed(_fit_one)(jobs[k][2], jobs[k][3], forecast) for k in order
        )
        for k, result in zip(order, done, strict=True):
            fitted[k] = result
            fitted_one(k)
    else:
        for k in order:
            fitted[k] = _fit_predict(jobs[k][2], jobs[k][3], forecast)
            fitted_one(k)
    out: list[Fitted] = []
    for i, (model, _) in enumerate(tasks):
        parts = {name: fitted[k] for k, (owner, name, _, _) in enumerate(jobs) if owner == i}
        if None in parts:
            out.append(parts[None])
            continue
        ensemble = clone(model)
        ensemble.fitted_ = {name: parts[name].model for name in model.members}
        ensemble.ids_ = np.array(sorted(set().union(*(set(m.ids_) for m in ensemble.fitted_.values()))))
        frames = None if forecast is None else [parts[name].forecast for name in model.members]
        out.append(Fitted(ensemble, None if frames is None else ensemble.combine(frames, forecast[1])))
    return out
