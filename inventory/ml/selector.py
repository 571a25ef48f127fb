"""Per-demand-class model selection by rolling-origin backtest.

:class:`ClassSelector` holds named candidate forecasters. ``fit(history)`` labels every series with its
Syntetos-Boylan class (smooth / erratic / intermittent / lumpy, from the history only), replays the
last ``n_backtests`` windows of ``horizon`` buckets *inside the history* (fit each candidate on the
buckets before a window, forecast it), and picks, per class, the (candidate, point column) pair with
the lowest WAPE over those windows. Only then are the chosen candidates fitted on the whole history.
``predict`` returns the chosen candidate's forecast for each series plus a ``point`` column — the
value to use under an absolute-error loss (WAPE / MASE): the candidate's ``mean`` or its median
``q50``, whichever backtested better for that class, times a per-class factor from ``point_factors``
chosen on the same windows (meant for the under-forecast of a ramp; ``(1.0,)``, the default, turns it off,
and the served configuration keeps it off: it did not carry over on the development origins). Quantile
columns listed in ``calibrate`` are rescaled per class by the smallest factor whose empirical coverage on the
backtest windows reaches the quantile level (a split-conformal scale correction,
:func:`inventory.ml.metrics.coverage_factor`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
from sklearn.base import clone

from .base import Forecaster, check_predict_args, infer_freq_days, prepare_history, quantile_column
from .demand import DEMAND_CLASSES, classify_demand
from .metrics import coverage_factor
from .parallel import FitProgress, fit_all

#: Factors tried when calibrating a quantile column on the backtest windows.
CALIBRATION_GRID = tuple(round(0.5 + 0.05 * i, 2) for i in range(71))  # 0.5 .. 4.0

#: Bounds of the backtest bias correction of the mean (``debias_mean``).
MEAN_FACTOR_BOUNDS = (0.5, 2.0)
#: The quantiles the backtests score and the workers forecast with the final fit (``predict``'s default).
PREDICT_QUANTILES = (0.5, 0.9)

#: Hook for progress / caching: called as ``runner(name, candidate, history, horizon)`` -> forecast frame.
Runner = Callable[[str, Forecaster, pd.DataFrame, int], pd.DataFrame]


def _default_runner(name: str, candidate: Forecaster, history: pd.DataFrame, horizon: int) -> pd.DataFrame:
    return clone(candidate).fit(history).predict(horizon)


def backtest_windows(history: pd.DataFrame, horizon: int, n_windows: int, freq_days: int) -> list[pd.Timestamp]:
    """Origins of the last ``n_windows`` non-overlapping windows of ``horizon`` buckets, oldest first."""
    end = history["ds"].max() + pd.Timedelta(days=freq_days)
    return [end - pd.Timedelta(days=freq_days * horizon * k) for k in range(n_windows, 0, -1)]


class ClassSelector(Forecaster):
    """Choose a forecaster per demand class by rolling-origin backtest on the fitted history.

    Parameters
    ----------
    candidates: ``{name: forecaster}`` (cloned before every fit).
    horizon: length of each backtest window, in buckets.
    n_backtests: number of windows, counted back from the end of the history.
    point_columns: which outputs may serve as the point forecast (``"mean"``, ``"q50"``).
    point_factors: multipliers of the point column tried per class; the (candidate, column, factor) triple
        with the lowest backtest WAPE is served.
    min_series: a class with fewer series in the backtest falls back to the overall best pair.
    min_selling_buckets: a series is scored in a backtest window when it sold in this many buckets before it.
    calibrate: quantile levels whose column is rescaled per class by the smallest factor (from a grid of
        0.5-4.0) whose backtest coverage reaches the level — the quantile heads / empirical quantiles of the
        candidates tend to be too narrow in a ramp.
    debias_mean: scale the ``mean`` column per class by the backtest ratio Σ actual / Σ mean of the chosen
        candidate (clipped to 0.5-2): the level a replenishment policy needs, without the bias a ramp shows.
    fallback: the candidate served (its mean) when the history is too short for any backtest window
        (default: the first candidate).
    runner: optional ``runner(name, candidate, history, horizon)`` used for every backtest fit+predict
        (the benchmark passes one that caches forecasts on disk).
    n_jobs: with more than 1 (and no ``runner``), the backtest fits — and the final fit when there is one
        candidate — run at once in that many worker processes of one thread each
        (:func:`inventory.ml.parallel.fit_all`; with 1, in turn in this process); the same models either way.
    random_state: unused; the candidates carry their own.
    """

    def __init__(
        self,
        candidates: dict[str, Forecaster],
        horizon: int = 4,
        n_backtests: int = 2,
        point_columns: Sequence[str] = ("mean", "q50"),
        point_factors: Sequence[float] = (1.0,),
        min_series: int = 30,
        min_selling_buckets: int = 8,
        calibrate: Sequence[float] = (0.9,),
        debias_mean: bool = False,
        fallback: str | None = None,
        runner: Runner | None = None,
        n_jobs: int = 1,
        random_state: int | None = None,
    ) -> None:
        self.candidates = candidates
        self.horizon = horizon
        self.n_backtests = n_backtests
        self.point_columns = point_columns
        self.point_factors = point_factors
        self.min_series = min_series
        self.min_selling_buckets = min_selling_buckets
        self.calibrate = calibrate
        self.debias_mean = debias_mean
        self.fallback = fallback
        self.runner = runner
        self.n_jobs = n_jobs
        self.random_state = random_state

    def _windows(self, h: pd.DataFrame) -> list[tuple[pd.Timestamp, pd.DataFrame, pd.DataFrame]]:
        """(origin, history before it, what was sold in its ``horizon`` buckets) of each scorable window."""
        freq = infer_freq_days(h)
        out = []
        for origin in backtest_windows(h, self.horizon, self.n_backtests, freq):
            past = h[h["ds"] < origin]
            # score the series the protocol would forecast at that origin (enough selling buckets)
            ids = (past["y"] > 0).groupby(past["unique_id"]).sum()
            ids = ids[ids >= self.min_selling_buckets].index
            past = past[past["unique_id"].isin(ids)]
            future = h[(h["ds"] >= origin) & h["unique_id"].isin(ids)].copy()
            future["step"] = ((future["ds"] - origin).dt.days // freq + 1).astype(int)
            future = future[future["step"] <= self.horizon].dropna(subset=["y"])
            if future.empty or future["y"].sum() <= 0:
                continue  # history too short (or silent) for this window: nothing to score
            out.append((origin, past.reset_index(drop=True), future))
        return out

    def backtest(
        self, history: pd.DataFrame, forecasts: dict[tuple[int, str], pd.DataFrame] | None = None
    ) -> pd.DataFrame:
        """Absolute errors and actual totals per (class, candidate, point column) over the backtest windows
        (``forecasts[(window number, candidate)]``, when given, are the backtest forecasts already made)."""
        run = self.runner or _default_runner
        h = prepare_history(history)
        records = []
        calib = []
        for i, (origin, past, future) in enumerate(self._windows(h)):
            classes = classify_demand(past).set_index("unique_id")["demand_class"]
            for name, cand in self.candidates.items():
                fc = forecasts[(i, name)] if forecasts is not None else run(name, cand, past, self.horizon)
                df = future.merge(fc, on=["unique_id", "step"], how="left")
                df["demand_class"] = df["unique_id"].map(classes)
                base = pd.DataFrame({"y": df["y"], "cls": df["demand_class"], "uid": df["unique_id"]})
                for col in self.point_columns:
                    for factor in self.point_factors:
                        yhat = factor * df[col].fillna(0.0)
                        agg = base.assign(err=(df["y"] - yhat).abs(), yhat=yhat)
                        for cls, g in agg.groupby("cls"):
                            sums = (g["err"].sum(), g["y"].sum(), g["yhat"].sum(), g["uid"].nunique())
                            records.append((origin, cls, name, col, float(factor), *sums))
                for tau in self.calibrate:
                    col = quantile_column(tau)
                    if col not in df:
                        continue
                    q = df[col].fillna(0.0).to_numpy()
                    y = df["y"].to_numpy()
                    for factor in CALIBRATION_GRID:
                        diff = y - factor * q
                        loss = np.maximum(tau * diff, (tau - 1.0) * diff)
                        part = pd.DataFrame({"loss": loss, "covered": y <= factor * q,
                                             "cls": df["demand_class"].to_numpy()})
                        for cls, g in part.groupby("cls"):
                            calib.append((cls, name, col, factor, g["loss"].sum(), g["covered"].sum(), len(g)))
        self.calibration_table_ = pd.DataFrame(
            calib, columns=["demand_class", "candidate", "column", "factor", "loss", "covered", "n"])
        columns = ["origin", "demand_class", "candidate", "point", "factor", "abs_err", "y", "yhat", "n_series"]
        return pd.DataFrame(records, columns=columns)

    def fit(self, history: pd.DataFrame, progress: FitProgress | None = None) -> ClassSelector:
        """Backtest the candidates, choose per class, then fit the chosen ones on the whole history.
        ``progress`` is called after each model fit (see :func:`inventory.ml.parallel.fit_all`)."""
        h = prepare_history(history)
        if self.runner is not None or not self.candidates:
            self.select(h)
            self.fitted_ = {name: clone(self.candidates[name]).fit(h) for name in self.chosen_candidates()}
            self._set_history(h)
            return self
        windows = self._windows(h)
        keys = [(i, name) for i in range(len(windows)) for name in self.candidates]
        tasks = [(self.candidates[name], windows[i][1]) for i, name in keys]
        labels = [f"{name}, backtest {i + 1} of {len(windows)}" for i, name in keys]
        single = len(self.candidates) == 1  # then the final fit is known before the choice: fit it too
        if single:
            tasks.append((next(iter(self.candidates.values())), h))
            labels.append(f"{next(iter(self.candidates))}, final fit")
        # the workers forecast too (a local model's work is its forecast): the backtests' and the final fits'
        fitted = fit_all(tasks, self.n_jobs, labels, progress, horizon=self.horizon, quantiles=PREDICT_QUANTILES)
        forecasts = {key: result.forecast for key, result in zip(keys, fitted, strict=False)}
        self.select(h, forecasts)
        if single:
            final = {next(iter(self.candidates)): fitted[-1]}
        else:
            chosen = self.chosen_candidates()
            done = fit_all([(self.candidates[name], h) for name in chosen], self.n_jobs,
                           [f"{name}, final fit" for name in chosen], horizon=self.horizon,
                           quantiles=PREDICT_QUANTILES)
            final = dict(zip(chosen, done, strict=True))
        self.fitted_ = {name: result.model for name, result in final.items()}
        self._set_history(h)
        self.final_forecasts_ = {name: result.forecast for name, result in final.items()}
        return self

    def chosen_candidates(self) -> list[str]:
        """Names of the candidates some class serves (after :meth:`select`)."""
        return sorted({c for c, _ in self.choice_.values()})

    def select(
        self, history: pd.DataFrame, forecasts: dict[tuple[int, str], pd.DataFrame] | None = None
    ) -> ClassSelector:
        """Backtest and choose per class, without fitting the chosen candidates (see :meth:`combine`);
        ``forecasts`` as in :meth:`backtest`."""
        if not self.candidates:
            raise ValueError("ClassSelector needs at least one candidate")
        if self.fallback is not None and self.fallback not in self.candidates:
            raise ValueError(f"fallback {self.fallback!r} is not a candidate")
        h = prepare_history(history)
        bt = self.backtest(h, forecasts)
        self.backtest_ = bt
        keys = ["candidate", "point", "factor"]
        overall = bt.groupby(keys)[["abs_err", "y"]].sum()
        if overall["y"].sum() > 0:
            overall_best = (overall["abs_err"] / overall["y"]).idxmin()
        else:  # no window could be scored: serve the fallback candidate's mean
            overall_best = (self.fallback or next(iter(self.candidates)), "mean", 1.0)
        choice: dict[str, tuple[str, str]] = {}
        factors: dict[str, float] = {}
        for cls in DEMAND_CLASSES:
            g = bt[bt["demand_class"] == cls]
            n = g.groupby("origin")["n_series"].max().sum() if len(g) else 0
            if n < self.min_series * max(self.n_backtests, 1) / 2 or g["y"].sum() <= 0:
                best = overall_best
            else:
                s = g.groupby(keys)[["abs_err", "y"]].sum()
                best = (s["abs_err"] / s["y"]).idxmin()
            choice[cls], factors[cls] = (best[0], best[1]), float(best[2])
        self.choice_ = choice
        self.point_factor_ = factors
        self.mean_factor_ = {cls: self._mean_factor(bt, cls, cand) for cls, (cand, _) in choice.items()}
        ct = self.calibration_table_
        taus = {quantile_column(t): float(t) for t in self.calibrate}
        self.quantile_factors_: dict[tuple[str, str], float] = {}
        for cls, (cand, _) in choice.items():
            sub = ct[(ct["candidate"] == cand) & (ct["demand_class"] == cls)]
            if sub.empty:
                sub = ct[ct["candidate"] == cand]
            for col, g in sub.groupby("column"):
                counts = g.groupby("factor")[["covered", "n"]].sum()
                self.quantile_factors_[(cls, col)] = coverage_factor(counts["covered"], counts["n"], taus[col])
        self.classes_ = classify_demand(h).set_index("unique_id")["demand_class"]
        return self

    def _mean_factor(self, bt: pd.DataFrame, cls: str, cand: str) -> float:
        """Backtest Σy / Σmean of ``cand`` in class ``cls`` (1.0 unless ``debias_mean``), clipped to 0.5-2."""
        if not self.debias_mean:
            return 1.0
        rows = bt[(bt["candidate"] == cand) & (bt["point"] == "mean") & np.isclose(bt["factor"], 1.0)]
        if (rows["demand_class"] == cls).sum():
            rows = rows[rows["demand_class"] == cls]
        y, yhat = float(rows["y"].sum()), float(rows["yhat"].sum())
        return float(np.clip(y / yhat, *MEAN_FACTOR_BOUNDS)) if y > 0 and yhat > 0 else 1.0

    def _set_history(self, h: pd.DataFrame) -> None:
        self.classes_ = classify_demand(h).set_index("unique_id")["demand_class"]
        self.ids_ = np.array(sorted(h["unique_id"].unique()))
        self.final_forecasts_: dict[str, pd.DataFrame] = {}  # made by fit's workers, for predict(horizon)

    def update(self, history: pd.DataFrame) -> ClassSelector:
        """Pass newer history to the chosen models (see ``Forecaster.update``); the choice per class stays."""
        self._check_fitted()
        h = prepare_history(history)
        for model in self.fitted_.values():
            model.update(h)
        self._set_history(h)
        return self

    def predict(self, horizon: int, quantiles: Sequence[float] = (0.5, 0.9)) -> pd.DataFrame:
        """The chosen candidate's forecast per series, plus the ``point`` column."""
        self._check_fitted()
        check_predict_args(horizon, quantiles)
        made = getattr(self, "final_forecasts_", {})
        reuse = int(horizon) == self.horizon and tuple(quantiles) == PREDICT_QUANTILES
        forecasts = {
            name: made[name] if reuse and name in made else model.predict(int(horizon), quantiles)
            for name, model in self.fitted_.items()
        }
        return self.combine(forecasts, quantiles)

    def combine(self, forecasts: dict[str, pd.DataFrame], quantiles: Sequence[float] = (0.5, 0.9)) -> pd.DataFrame:
        """The served forecast from the chosen candidates' forecasts (``{name: frame}``, e.g. made elsewhere
        from the same history): per class the chosen frame, its ``point`` column, scaled mean and quantiles."""
        parts = []
        for name in self.chosen_candidates():
            fc = forecasts[name]
            fc = fc.assign(demand_class=fc["unique_id"].map(self.classes_))
            for cls, (cand, col) in self.choice_.items():
                if cand == name:
                    sel = fc[fc["demand_class"] == cls].copy()
                    sel["point"] = sel[col] * self.point_factor_[cls]
                    sel["mean"] = sel["mean"] * self.mean_factor_[cls]
                    for (fcls, qcol), factor in self.quantile_factors_.items():
                        if fcls == cls and qcol in sel:
                            sel[qcol] = sel[qcol] * factor
                    parts.append(sel)
        out = pd.concat(parts, ignore_index=True).drop(columns="demand_class")
        qcols = [quantile_column(t) for t in sorted(quantiles)]
        if qcols:
            out[qcols] = np.maximum.accumulate(out[qcols].to_numpy(dtype=float), axis=1)
        return out.sort_values(["unique_id", "step"], kind="mergesort").reset_index(drop=True)

    def backtest_wape(self) -> pd.DataFrame:
        """WAPE per class × (candidate, point, factor) from the last fit's backtest, for reports."""
        g = self.backtest_.groupby(["demand_class", "candidate", "point", "factor"])[["abs_err", "y"]].sum()
        return (g["abs_err"] / g["y"]).rename("wape").reset_index()

    def chosen_backtest(self) -> pd.DataFrame:
        """The backtest rows of the served (candidate, point, factor) of each class."""
        bt = self.backtest_
        chosen = pd.Series(False, index=bt.index)
        for cls, (cand, col) in self.choice_.items():
            chosen |= (
                (bt["demand_class"] == cls) & (bt["candidate"] == cand) & (bt["point"] == col)
                & np.isclose(bt["factor"], self.point_factor_[cls])
            )
        return bt[chosen]

