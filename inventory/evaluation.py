"""PROTOCOL §2 evaluation on the orders in the database: the statsforecast anchors and the served forecaster."""

from __future__ import annotations

import datetime as dt
import time
import warnings

import pandas as pd

from personalization.host.threads import limited_threads

from .conf import inventory_settings
from .forecasting import ForecastError, demand_panel, served_forecaster
from .ml import demand as dm
from .ml.metrics import evaluate_forecast

ANCHORS = ("Naive", "HistoricAverage", "WindowAverage", "CrostonSBA", "TSB", "ADIDA", "IMAPA", "AutoETS")


def anchor_forecasts(history: pd.DataFrame, horizon: int) -> pd.DataFrame:
    """The protocol's anchors in one statsforecast call (raw point forecasts, as the protocol scores them)."""
    from statsforecast import StatsForecast
    from statsforecast.models import ADIDA, IMAPA, TSB, AutoETS, CrostonSBA, HistoricAverage, Naive, WindowAverage

    models = [
        Naive(),
        HistoricAverage(),
        WindowAverage(4),
        CrostonSBA(),
        TSB(0.2, 0.2),
        ADIDA(),
        IMAPA(),
        AutoETS(season_length=1),
    ]
    fc = StatsForecast(models=models, freq="7D", n_jobs=1).forecast(df=history[["unique_id", "ds", "y"]], h=horizon)
    fc["step"] = fc.groupby("unique_id").cumcount() + 1
    return fc.drop(columns="ds")


def evaluate(origin: dt.date, horizon: int = 4, min_weeks: int = 8) -> dict:
    """Metrics per model at ``origin`` (a Monday): series with sales in ``min_weeks`` weeks before it,
    forecast ``horizon`` weeks, scored against what the database says was sold. The served forecaster
    (``INVENTORY["FORECASTER"]``) is reported as ``served``."""
    if origin.weekday() != 0:
        raise ForecastError(f"The origin must be a Monday (weeks run Monday to Sunday); {origin} is not.")
    panel = demand_panel(origin + dt.timedelta(weeks=horizon))
    if panel.empty:
        raise ForecastError(f"No sales before {origin + dt.timedelta(weeks=horizon)} in the database.")
    panel["ds"] = pd.to_datetime(panel["ds"])
    ids = dm.select_series(panel, pd.Timestamp(origin), min_weeks=min_weeks)
    if not ids:
        raise ForecastError(f"No product sold in {min_weeks} distinct weeks before {origin}.")
    history, actual = dm.split_at_origin(panel, pd.Timestamp(origin), horizon, ids)
    out: dict = {"origin": origin.isoformat(), "horizon": horizon, "n_series": len(ids), "models": {}, "seconds": {}}
    started = time.perf_counter()
    with warnings.catch_warnings(), limited_threads():
        warnings.simplefilter("ignore")
        anchors = anchor_forecasts(history, horizon)
    out["seconds"]["anchors"] = round(time.perf_counter() - started, 1)
    for name in ANCHORS:
        fc = anchors[["unique_id", "step", name]].rename(columns={name: "mean"})
        out["models"][name] = evaluate_forecast(fc, actual, history, quantiles=())
    name = inventory_settings.FORECASTER
    started = time.perf_counter()
    model = served_forecaster(name, horizon)
    with warnings.catch_warnings(), limited_threads():
        warnings.simplefilter("ignore")
        fc = model.fit(history).predict(horizon)
    out["seconds"]["served"] = round(time.perf_counter() - started, 1)
    out["served_configuration"] = name
    out["models"]["served"] = evaluate_forecast(fc, actual, history, point="point" if "point" in fc else "mean")
    if "q50" in fc:  # the median is the better point under absolute error (WAPE, MASE); the mean feeds the policy
        out["models"]["served_q50"] = evaluate_forecast(fc, actual, history, point="q50")
    return out
