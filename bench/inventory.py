"""Demand forecasting and replenishment benchmark (PROTOCOL §2 and §3) on the two-year Online Retail II data.

    python bench/inventory.py                       # everything, written to bench/RESULTS.md
    python bench/inventory.py --no-sim              # forecasting only
    python bench/inventory.py --origins 2010-11-08 --sample 0.3 --no-write   # development: a subset
    python bench/inventory.py --fresh               # ignore bench/out/inventory/ caches

Data: ``data/online_retail_ii.csv.gz`` (2009-12-01 .. 2011-12-09). Forecast origins (horizon 4 weeks): the
development origin 2010-11-08 (a ramp origin with 49 weeks of history; used only to choose settings) and the
scored origins 2011-09-05, 2011-10-03, 2011-11-07. At each origin, in the same run:

1. PROTOCOL §2 anchors: statsforecast Naive, WindowAverage(4), TSB(0.2, 0.2), ADIDA, IMAPA, AutoETS; the
   seasonal anchors SeasonalNaive(52) (0 before a series' first year), last year's weeks × recent ratio
   (Σ of the last 8 weeks / Σ of the same 8 weeks a year before, clipped 0.25-4; WindowAverage(4) where
   there is no last year) and ½ of that + ½ WindowAverage(4); and mlforecast + LightGBM (lags 1-4, 8, 52,
   rolling means of 4 and 13 weeks of lag 1, week and month, 300 trees, L2 loss, one thread);
2. the served forecaster (``inventory.ml.served``: a ``ClassSelector`` over the average of the global GBM,
   the global MLP, Theta and IMAPA; the global models use the prior-year seasonal features of
   ``inventory.ml.features``; q90 scaled per demand class by the smallest factor whose coverage on the two
   backtest windows before the origin reaches 0.90), fitted on history before the origin only.

Replenishment (PROTOCOL §3) at every origin: real daily demand from the origin for 8 weeks (2011-11-07: the
33 days the data have), lead time 7 days and random 5-10 days; anchors (a) and (b) and the project's policy at
its 95 % target, with the spike bound (each item's largest 14-day demand of the 182 days before), the share
of units above it, the fill rate below it and the total cost (holding 25 %/year of unit cost + the margin
lost on unserved units, price − 0.6 × price).

Settings rule, written down before the scored origins were run (2026-12-03): settings are compared on the
development origin 2010-11-08 only (all series, or a stable hash subset while developing); a change to the
served forecaster is kept only if it lowers the served WAPE there by ≥ 0.002 or brings q90 coverage into
0.87-0.93 without raising WAPE by more than 0.002; the policy's settings are kept only if its fill below the
spike bound at 2010-11-08 (both lead times) rises without a higher total cost. The seasonal features cannot
be judged there (no series has a year before its target weeks at 2010-11-08), so they are in by design
(the issue's item 5), not by a measurement. The scored origins are run once, with whatever that gave.
"""

from __future__ import annotations

import argparse
import ast
import datetime as dt
import hashlib
import os
import platform
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from results_md import publish  # noqa: E402
from sklearn.base import clone  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from inventory.ml import demand as dm  # noqa: E402
from inventory.ml.base import Forecaster, finalize_forecast  # noqa: E402
from inventory.ml.ensemble import EnsembleForecaster, average_forecasts  # noqa: E402
from inventory.ml.local import LocalForecaster  # noqa: E402
from inventory.ml.metrics import evaluate_forecast  # noqa: E402
from inventory.ml.served import POLICY_PARAMS, served_selector  # noqa: E402
from inventory.ml.simulation import (  # noqa: E402
    CoverPolicy,
    ForecastPolicy,
    LeadTime,
    NormalReorderPointPolicy,
    SimulationInput,
    build_simulation_input,
    simulate,
    spike_bounds,
)

DATA = ROOT / "data" / "online_retail_ii.csv.gz"
OUT = ROOT / "bench" / "out" / "inventory"
DEV_ORIGIN = "2010-11-08"
SCORED = ("2011-09-05", "2011-10-03", "2011-11-07")
ORIGINS = (DEV_ORIGIN, *SCORED)
HORIZON = 4
SIM_DAYS = 56
#: Every source file of the forecasters: a change invalidates the cached forecasts.
CODE_HASH = hashlib.sha1(b"".join(p.read_bytes() for p in sorted((ROOT / "inventory" / "ml").glob("*.py")))).hexdigest()

ANCHORS = ("Naive", "WindowAverage", "TSB", "ADIDA", "IMAPA", "AutoETS", "SeasonalNaive(52)", "SeasonalRatio",
           "SeasonalBlend", "mlforecast+LightGBM")
ANCHOR_LABELS = {
    "WindowAverage": "WindowAverage(4)", "TSB": "TSB(0.2, 0.2)",
    "SeasonalRatio": "last year's weeks × recent ratio (0.25-4)",
    "SeasonalBlend": "½ that + ½ WindowAverage(4)",
    "mlforecast+LightGBM": "mlforecast + LightGBM (lags 1-4, 8, 52; rolling means; week, month; 300 trees)",
}
#: PROTOCOL §2 two-year figures: WAPE at 2011-11-07 (and MASE where given), best anchors at the rolling origins.
PROTOCOL_1107 = {"Naive": 0.7067, "WindowAverage": 0.5994, "TSB": 0.6010, "ADIDA": 0.5962, "IMAPA": 0.5899,
                 "AutoETS": 0.6629, "SeasonalNaive(52)": 0.8878, "SeasonalRatio": 0.8243, "SeasonalBlend": 0.6661}
PROTOCOL_SERIES = {"2011-09-05": 3783, "2011-10-03": 3844, "2011-11-07": 3921}
PROTOCOL_BEST = {"2011-09-05": ("IMAPA", 0.6980), "2011-10-03": ("IMAPA", 0.6774), "2011-11-07": ("IMAPA", 0.5899)}


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def cached(path: Path, build, fresh: bool):  # noqa: ANN001, ANN201
    if path.exists() and not fresh:
        return pd.read_pickle(path)
    obj = build()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    pd.to_pickle(obj, tmp)
    os.replace(tmp, path)
    return obj


class CachingRunner:
    """fit + predict through the contract, cached on disk by (code, candidate params, history, horizon)."""

    def __init__(self, fresh: bool) -> None:
        self.fresh = fresh
        self.seconds: dict[tuple[str, str], float] = {}

    def __call__(self, name: str, candidate: Forecaster, history: pd.DataFrame, horizon: int) -> pd.DataFrame:
        ids = np.sort(history["unique_id"].unique())
        key = hashlib.sha1((CODE_HASH + repr(candidate.get_params()) + str(history["ds"].max()) + ",".join(ids)
                            + str(horizon) + str(len(history))).encode()).hexdigest()[:16]
        origin = (history["ds"].max() + pd.Timedelta(days=7)).date().isoformat()
        path = OUT / "cache" / f"{name}_{origin}_{key}.pkl"

        def build() -> pd.DataFrame:
            t = time.perf_counter()
            if isinstance(candidate, EnsembleForecaster):  # reuse the members' cached forecasts
                frames = [self(member, m, history, horizon) for member, m in candidate.members.items()]
                fc = finalize_forecast(average_forecasts(frames, candidate.weights), (0.5, 0.9))
            else:
                fc = clone(candidate).fit(history).predict(horizon)
            self.seconds[(name, origin)] = time.perf_counter() - t
            log(f"  {name} at {origin} ({len(ids)} series): {self.seconds[(name, origin)]:.1f} s")
            return fc

        return cached(path, build, self.fresh)


def statsforecast_anchors(history: pd.DataFrame) -> pd.DataFrame:
    """Naive, WindowAverage(4), TSB, ADIDA, IMAPA, AutoETS in one statsforecast call (raw point forecasts)."""
    from statsforecast import StatsForecast
    from statsforecast.models import ADIDA, IMAPA, TSB, AutoETS, Naive, WindowAverage

    models = [Naive(), WindowAverage(4), TSB(0.2, 0.2), ADIDA(), IMAPA(), AutoETS(season_length=1)]
    sf = StatsForecast(models=models, freq="7D", n_jobs=1)
    fc = sf.forecast(df=history[["unique_id", "ds", "y"]], h=HORIZON)
    fc["step"] = fc.groupby("unique_id").cumcount() + 1
    return fc.drop(columns="ds")


def seasonal_anchors(history: pd.DataFrame, window_average: pd.DataFrame) -> pd.DataFrame:
    """SeasonalNaive(52), last year's weeks × recent ratio and the ½ / ½ blend with WindowAverage(4)."""
    last = history["ds"].max()
    wide = history.pivot(index="unique_id", columns="ds", values="y")
    wide = wide.reindex(columns=pd.date_range(last - pd.Timedelta(weeks=60), last, freq="7D"))
    y = wide.to_numpy(dtype=float)  # columns: t-61 .. t-1; NaN before a series starts
    n_cols = y.shape[1]
    recent = np.nansum(y[:, -8:], axis=1)
    year_before = y[:, n_cols - 52 - 8:n_cols - 52]
    has_year = ~np.isnan(year_before).all(axis=1)
    before = np.nansum(year_before, axis=1)
    ratio = np.clip(np.where(before > 0, recent / np.where(before > 0, before, 1.0), 1.0), 0.25, 4.0)
    wa = window_average.set_index(["unique_id", "step"])["WindowAverage"]
    rows = []
    for step in range(1, HORIZON + 1):
        col = n_cols - 52 + step - 1  # the target week a year before
        same = np.nan_to_num(y[:, col])
        wa_step = wa.xs(step, level="step").reindex(wide.index).to_numpy()
        ratio_fc = np.where(has_year, same * ratio, wa_step)
        rows.append(pd.DataFrame({
            "unique_id": wide.index, "step": step, "SeasonalNaive(52)": same, "SeasonalRatio": ratio_fc,
            "SeasonalBlend": 0.5 * ratio_fc + 0.5 * wa_step,
        }))
    return pd.concat(rows, ignore_index=True)


def mlforecast_anchor(history: pd.DataFrame, threads: int) -> pd.DataFrame:
    """PROTOCOL §2's off-the-shelf global model: mlforecast + LightGBM."""
    import lightgbm as lgb
    from mlforecast import MLForecast
    from mlforecast.lag_transforms import RollingMean

    model = lgb.LGBMRegressor(n_estimators=300, learning_rate=0.05, num_leaves=31, n_jobs=threads, verbose=-1,
                              random_state=0)
    fcst = MLForecast(models={"lgbm": model}, freq="W-MON", lags=[1, 2, 3, 4, 8, 52],
                      lag_transforms={1: [RollingMean(window_size=4), RollingMean(window_size=13)]},
                      date_features=["week", "month"], num_threads=1)
    fcst.fit(history[["unique_id", "ds", "y"]], static_features=[], dropna=False)
    fc = fcst.predict(HORIZON)
    fc["step"] = fc.groupby("unique_id").cumcount() + 1
    return fc.rename(columns={"lgbm": "mlforecast+LightGBM"})[["unique_id", "step", "mlforecast+LightGBM"]]


def fmt(v: float, digits: int = 4) -> str:
    return "—" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{v:.{digits}f}"


def sample_ids(ids: list[str], share: float) -> list[str]:
    """A stable subset of about ``share`` of the series (by a hash of the id) for quick development runs."""
    if share >= 1.0:
        return ids
    return [i for i in ids if int(hashlib.sha1(i.encode()).hexdigest()[:8], 16) / 16**8 < share]


def product_categories(tx: pd.DataFrame) -> pd.Series:
    """Each StockCode's category as the demo shop assigns it (its most frequent description, by keyword)."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop_project.settings")
    django.setup()
    from shop_project.shop.importing import categorise

    described = tx.dropna(subset=["Description"])
    names = described.groupby("StockCode")["Description"].agg(lambda s: s.value_counts().index[0])
    return pd.Series(categorise(names).to_numpy(), index=names.index)


def load_data(fresh: bool) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The clean sale rows and the weekly panel of :data:`DATA` with each product's ``category`` (cached)."""
    tx = cached(OUT / f"transactions-{DATA.name}.pkl",
                lambda: dm.clean_transactions(dm.read_transactions(str(DATA))), fresh)
    categories = cached(OUT / "categories.pkl", lambda: product_categories(tx), fresh)
    weekly = cached(OUT / f"weekly-{DATA.name}.pkl", lambda: dm.weekly_demand(tx), fresh)
    weekly["category"] = weekly["unique_id"].map(categories)
    return tx, weekly


def forecasting(weekly: pd.DataFrame, args: argparse.Namespace) -> dict:
    runner = CachingRunner(args.fresh)
    res: dict = {"anchors": {}, "served": {}, "served_mean": {}, "choice": {}, "counts": {}, "times": {},
                 "selectors": {}, "quantile_factors": {}}
    for origin in args.origins:
        ids = sample_ids(dm.select_series(weekly, origin), args.sample)
        history, actual = dm.split_at_origin(weekly, origin, HORIZON, ids)
        res["counts"][origin] = len(ids)
        log(f"origin {origin}: {len(ids)} series (protocol {PROTOCOL_SERIES.get(origin, '-')})")
        plain = history[["unique_id", "ds", "y"]]
        t, c = time.perf_counter(), cpu_seconds()
        anchors = cached(OUT / "cache" / f"anchors_{origin}_{len(ids)}_{args.sample}.pkl",
                         lambda plain=plain: statsforecast_anchors(plain), args.fresh)
        anchors = anchors.merge(seasonal_anchors(plain, anchors), on=["unique_id", "step"])
        if args.mlforecast:
            ml = cached(OUT / "cache" / f"mlforecast_{origin}_{len(ids)}_{args.sample}.pkl",
                        lambda plain=plain: mlforecast_anchor(plain, args.threads), args.fresh)
            anchors = anchors.merge(ml, on=["unique_id", "step"], how="left")
        res["times"][("anchors", origin)] = (time.perf_counter() - t, cpu_seconds() - c)
        for model in ANCHORS:
            if model in anchors:
                fc = anchors[["unique_id", "step", model]].rename(columns={model: "mean"})
                res["anchors"][(origin, model)] = evaluate_forecast(fc, actual, history, quantiles=())
        t, c = time.perf_counter(), cpu_seconds()
        selector = served_selector(HORIZON, with_torch=args.torch, runner=runner, **args.overrides)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            selector.fit(history)
            fc = selector.predict(HORIZON)
        res["times"][("served", origin)] = (time.perf_counter() - t, cpu_seconds() - c)
        res["served"][origin] = evaluate_forecast(fc, actual, history, point="point")
        res["served_mean"][origin] = evaluate_forecast(fc, actual, history, point="mean")
        res["quantile_factors"][origin] = dict(selector.quantile_factors_)
        res["selectors"][origin] = selector
        s = res["served"][origin]
        log(f"  served at {origin}: WAPE {s['wape']:.4f} MASE {s['mase']:.4f} cov q90 {s['coverage_q90']:.3f} "
            f"({res['times'][('served', origin)][0]:.0f} s)")
    res["runner_seconds"] = runner.seconds
    return res


def best_anchor(fc: dict, origin: str) -> tuple[str, dict]:
    present = [m for m in ANCHORS if (origin, m) in fc["anchors"]]
    name = min(present, key=lambda m: fc["anchors"][(origin, m)]["wape"])
    return name, fc["anchors"][(origin, name)]


def spike_share(sim: SimulationInput) -> tuple[float, float]:
    """Share of the units demanded above each item's spike bound, and the stock value of holding every bound."""
    bound = spike_bounds(sim.daily_history)
    total = sim.demand.sum()
    over = np.clip(sim.demand - bound[:, None], 0.0, None).sum()
    return (float(over / total) if total > 0 else float("nan")), float((bound * sim.unit_cost).sum())


def simulation(tx, daily, weekly, selectors, args) -> dict:  # noqa: ANN001
    out: dict = {"main": [], "seconds": {}, "spikes": {}, "days": {}}
    policy_params = {**POLICY_PARAMS, **args.policy_overrides}
    last_day = daily["ds"].max()
    for origin in args.origins:
        ids = sample_ids(dm.select_series(weekly, origin), args.sample)
        days = min(SIM_DAYS, (last_day - pd.Timestamp(origin)).days + 1)
        sim = build_simulation_input(tx, daily, weekly, origin, ids, days=days)
        out["spikes"][origin], out["days"][origin] = spike_share(sim), days
        served = selectors[origin]
        for lead in (LeadTime(7, 7), LeadTime(5, 10)):
            policies = [
                CoverPolicy(weeks=2, window_weeks=4),
                NormalReorderPointPolicy(LocalForecaster("IMAPA"), service_level=0.95,
                                         name="(b) IMAPA reorder point, normal SS, 95%"),
                ForecastPolicy(served, fill_rate=args.fill_rate, fitted=True, **policy_params,
                               name=f"project, target {args.fill_rate:g}"),
            ]
            for p in policies:
                t, c = time.perf_counter(), cpu_seconds()
                r = simulate(sim, p, lead, seed=0)
                out["seconds"][(origin, lead.label(), p.name)] = (time.perf_counter() - t, cpu_seconds() - c)
                out["main"].append((origin, len(ids), r))
                log(f"  sim {origin} {lead.label()}: {r.policy}: fill {r.fill_rate:.4f} below bound "
                    f"{r.fill_below_bound:.4f} cost {r.total_cost:,.0f}")
    return out


def render(fc: dict, sim: dict | None, args: argparse.Namespace, wall: float, cpu: float,
           load: tuple[float, float]) -> str:
    today = dt.date.today().isoformat()
    cmd = "python bench/inventory.py " + " ".join(sys.argv[1:])
    import lightgbm
    import mlforecast
    import statsforecast

    lines = [
        "## Forecasting and replenishment (PROTOCOL §2, §3), two-year data",
        "",
        f"Command: `{cmd}` — {today}, {platform.machine()}, {os.cpu_count()} CPUs shared with other jobs (wall "
        f"times inflated), Python {platform.python_version()}, statsforecast {statsforecast.__version__}, "
        f"mlforecast {mlforecast.__version__}, LightGBM {lightgbm.__version__}, one thread; wall {wall / 60:.1f} "
        f"min, CPU (user+sys) {cpu / 60:.1f} min; load average {load[0]:.1f} at the start, {load[1]:.1f} at the "
        "end. Data: `data/online_retail_ii.csv.gz` (UCI Online Retail II, Chen 2015, CC BY 4.0). "
        f"{DEV_ORIGIN} is the development origin (settings only, see the rule in the bench's docstring); the "
        "others are scored, once.",
        "",
        "Series (≥ 8 selling weeks before the origin): " + ", ".join(
            f"{o}: {fc['counts'][o]:,}" + (f" (protocol {PROTOCOL_SERIES[o]:,})" if o in PROTOCOL_SERIES else "")
            for o in args.origins) + ".",
        "",
        "### Forecasts, horizon 4 weeks (WAPE / MASE / bias)",
        "",
        "| model | " + " | ".join(args.origins) + " | protocol WAPE 2011-11-07 |",
        "|---|" + "---|" * (len(args.origins) + 1),
    ]
    for model in ANCHORS:
        cells = []
        for o in args.origins:
            m = fc["anchors"].get((o, model))
            cells.append("—" if m is None else f"{fmt(m['wape'])} / {fmt(m['mase'])} / {m['bias']:+.3f}")
        proto = PROTOCOL_1107.get(model)
        lines.append(f"| {ANCHOR_LABELS.get(model, model)} | " + " | ".join(cells) + f" | {fmt(proto)} |")
    cells = [f"**{fmt(fc['served'][o]['wape'])}** / {fmt(fc['served'][o]['mase'])} / {fc['served'][o]['bias']:+.3f}"
             for o in args.origins]
    lines.append("| **served (ClassSelector, point)** | " + " | ".join(cells) + " | |")
    cells = [f"{fmt(fc['served_mean'][o]['wape'])} / {fmt(fc['served_mean'][o]['mase'])} / "
             f"{fc['served_mean'][o]['bias']:+.3f}" for o in args.origins]
    lines.append("| served, its mean (the restock level) | " + " | ".join(cells) + " | |")
    cells = [f"{fmt(fc['served'][o]['coverage_q90'], 3)} (pinball {fmt(fc['served'][o]['pinball_q90'], 2)})"
             for o in args.origins]
    lines.append("| served q90 coverage | " + " | ".join(cells) + " | |")
    lines += ["", "**Targets** (served WAPE ≤ 0.90 × the best anchor's; q90 coverage within 0.87-0.93):", ""]
    for o in args.origins:
        name, a = best_anchor(fc, o)
        s = fc["served"][o]
        ratio = s["wape"] / a["wape"]
        cov = s["coverage_q90"]
        tag = " (development origin, not a target)" if o == DEV_ORIGIN else ""
        lines.append(f"- {o}{tag}: served {s['wape']:.4f} = {ratio:.3f} × best anchor {ANCHOR_LABELS.get(name, name)} "
                     f"{a['wape']:.4f} — **{'met' if ratio <= 0.90 else 'missed'}**; q90 coverage {cov:.3f} — "
                     f"**{'met' if 0.87 <= cov <= 0.93 else 'missed'}**.")
    lines += ["", "q90 scale per demand class (smallest factor with backtest coverage ≥ 0.90): " + "; ".join(
        f"{o}: " + ", ".join(f"{cls} {f:g}" for (cls, _), f in sorted(fc["quantile_factors"][o].items()))
        for o in args.origins) + "."]
    lines += ["", "Time per origin, wall / CPU seconds: " + "; ".join(
        f"{o}: anchors {fc['times'][('anchors', o)][0]:.0f} / {fc['times'][('anchors', o)][1]:.0f}, served "
        f"{fc['times'][('served', o)][0]:.0f} / {fc['times'][('served', o)][1]:.0f}" for o in args.origins) + "."]
    if sim is not None:
        lines += [
            "",
            "### Replenishment simulation (PROTOCOL §3)",
            "",
            "Real daily demand of the forecast series from the origin (8 weeks; 2011-11-07: "
            f"{sim['days'].get('2011-11-07', '—')} days, to the end of the data), lost sales, start stock = "
            "each policy's target, unit cost = 0.6 × median UnitPrice before the origin, holding 25 %/year, lost "
            "margin = unserved units × 0.4 × price; total cost = holding + lost margin. Fill below bound = units "
            "served of the demand up to each item's spike bound (its largest 14-day demand of the 182 days "
            "before the origin). (b) and the project's policy review daily; all re-forecast weekly from the "
            "simulated sales.",
            "",
            "| origin | lead time | policy | fill | fill below bound | avg stock £ | holding £ | lost margin £ | "
            "total cost £ | orders |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for o, _, r in sim["main"]:
            lines.append(f"| {o} | {r.lead_time} | {r.policy} | {r.fill_rate:.4f} | {r.fill_below_bound:.4f} | "
                         f"{r.avg_stock_value:,.0f} | {r.holding_cost:,.0f} | {r.lost_margin:,.0f} | "
                         f"{r.total_cost:,.0f} | {r.orders:,} |")
        lines += ["", "Spike bound: " + "; ".join(
            f"{o}: {v:.1%} of the units demanded came on days above it (holding every item's bound: £{value:,.0f})"
            for o, (v, value) in sim["spikes"].items()) + ".", "",
            "**Targets** (project policy at 0.95: fill below bound ≥ 0.95 and total cost below both anchors'):", ""]
        rows = {(o, r.lead_time, r.policy[:3]): r for o, _, r in sim["main"]}
        for (o, lead, kind), r in rows.items():
            if kind != "pro":
                continue
            a, b = rows[(o, lead, "(a)")], rows[(o, lead, "(b)")]
            fill_ok = r.fill_below_bound >= 0.95
            cost_ok = r.total_cost < min(a.total_cost, b.total_cost)
            tag = " (development)" if o == DEV_ORIGIN else ""
            lines.append(f"- {o}{tag}, {lead}: fill below bound {r.fill_below_bound:.4f} — "
                         f"**{'met' if fill_ok else 'missed'}**; total cost £{r.total_cost:,.0f} against (a) "
                         f"£{a.total_cost:,.0f} and (b) £{b.total_cost:,.0f} — **{'met' if cost_ok else 'missed'}**.")
    if DEV_ORIGIN not in args.origins:
        lines += ["", DEV_NOTE]
    lines.append("")
    return "\n".join(lines)


#: The development run behind the settings (2026-12-03), shown when a run leaves the development origin out.
DEV_NOTE = (
    "Development origin 2010-11-08, the settings rule's only input (`python bench/inventory.py --origins "
    "2010-11-08 --sample 0.25 --no-write`, 806 series, 2026-12-03, load average 7-15 on the 2 cores): best "
    "anchor WindowAverage(4) 0.6136 (TSB 0.6215, ADIDA 0.6291, IMAPA 0.6293, AutoETS 0.6707, "
    "mlforecast + LightGBM 0.7110; there is no year before, so the seasonal-ratio anchors fall back to "
    "WindowAverage(4) and SeasonalNaive(52) scores 1.0059); served 0.5807 = 0.946 × the best anchor, q90 "
    "coverage 0.931 (scales: smooth 1.25, erratic 1.4, intermittent 1.15, lumpy 1.25). Replenishment there: "
    "the project policy fills 0.9614 / 0.9661 of the demand below the spike bound (7 days / random 5-10 days) "
    "at a total cost of £22,038 / £22,561, against (a) 0.6822 / 0.6705 and £71,537 / £74,913 and (b) "
    "0.8697 / 0.8794 and £35,199 / £34,056; 2.9 % of the units came above the bound. Nothing was changed "
    "after that run (a calibration level other than 0.90, for the coverage of 0.931 just above the band, "
    "was not tried for lack of CPU time), so the scored origins ran with the settings as they were."
)


def dev_summary(fc: dict, sim: dict | None) -> str:
    """Compact figures of a development run (never written to RESULTS.md)."""
    lines = ["origin | forecaster | WAPE | MASE | bias | cov q90"]
    for o, s in fc["served"].items():
        for (oo, model), m in fc["anchors"].items():
            if oo == o:
                lines.append(f"{o} | {model} | {m['wape']:.4f} | {m['mase']:.4f} | {m['bias']:+.3f} |")
        lines.append(f"{o} | SERVED point | {s['wape']:.4f} | {s['mase']:.4f} | {s['bias']:+.3f} | "
                     f"{s['coverage_q90']:.3f}")
        sm = fc["served_mean"][o]
        lines.append(f"{o} | served mean | {sm['wape']:.4f} | {sm['mase']:.4f} | {sm['bias']:+.3f} |")
        name, a = best_anchor(fc, o)
        lines.append(f"{o} | ratio to best anchor {name}: {s['wape'] / a['wape']:.3f}; q90 factors "
                     f"{fc['quantile_factors'][o]}")
    if sim is not None:
        for o, _, r in sim["main"]:
            lines.append(f"sim {o} {r.lead_time} {r.policy}: fill {r.fill_rate:.4f} below {r.fill_below_bound:.4f}"
                         f" stock {r.avg_stock_value:,.0f} cost {r.total_cost:,.0f}")
        lines.append(f"spikes {sim['spikes']}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--no-torch", dest="torch", action="store_false",
                        help="leave out the PyTorch MLP (the served average then has GBM, Theta and IMAPA)")
    parser.add_argument("--no-mlforecast", dest="mlforecast", action="store_false",
                        help="leave out the mlforecast + LightGBM anchor")
    parser.add_argument("--no-sim", action="store_true", help="skip the replenishment simulation")
    parser.add_argument("--fill-rate", type=float, default=0.95, help="the project policy's fill-rate target")
    parser.add_argument("--threads", type=int, default=1, help="OpenMP threads for the boosting models")
    parser.add_argument("--fresh", action="store_true", help="ignore cached panels and forecasts")
    parser.add_argument("--no-write", action="store_true", help="print only; leave bench/RESULTS.md alone")
    parser.add_argument("--origins", type=lambda v: tuple(v.split(",")), default=ORIGINS,
                        help="forecast (and simulation) origins, comma-separated; with --no-write, or with "
                             "--set / --policy-set, a development run: prints a summary, writes nothing")
    parser.add_argument("--sample", type=float, default=1.0,
                        help="a stable hash subset of the series (share), for runs on loaded cores")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="NAME=VALUE",
                        help="development: override a served selector setting (a Python literal)")
    parser.add_argument("--policy-set", dest="policy_overrides", action="append", default=[], metavar="NAME=VALUE",
                        help="development: override a project policy setting, e.g. --policy-set ltd='bootstrap'")
    args = parser.parse_args()
    try:
        args.overrides = {k: ast.literal_eval(v) for k, v in (o.split("=", 1) for o in args.overrides)}
        args.policy_overrides = {k: ast.literal_eval(v) for k, v in (o.split("=", 1) for o in args.policy_overrides)}
        for o in args.origins:
            pd.Timestamp(o)
    except (ValueError, SyntaxError) as exc:
        parser.error(f"bad --set / --policy-set / --origins value: {exc}")
    dev = bool(args.overrides) or bool(args.policy_overrides) or (args.no_write and args.origins != ORIGINS)
    warnings.filterwarnings("ignore", category=RuntimeWarning)
    t0, c0 = time.perf_counter(), cpu_seconds()
    load0 = os.getloadavg()[0]
    if args.torch:
        import torch

        torch.set_num_threads(args.threads)
    with threadpool_limits(limits=args.threads):
        tx, weekly = load_data(args.fresh)
        log(f"data: {len(tx):,} clean sale rows, {weekly['unique_id'].nunique():,} products, "
            f"{weekly['category'].nunique()} categories")
        fc = forecasting(weekly, args)
        sim = None
        if not args.no_sim:
            daily = cached(OUT / f"daily-{DATA.name}.pkl", lambda: dm.daily_demand(tx), args.fresh)
            sim = simulation(tx, daily, weekly, fc["selectors"], args)
    wall, cpu = time.perf_counter() - t0, cpu_seconds() - c0
    if dev:
        print(dev_summary(fc, sim))
        print(f"wall {wall:.0f} s, cpu {cpu:.0f} s, load {load0:.1f} -> {os.getloadavg()[0]:.1f}")
        return
    section = render(fc, sim, args, wall, cpu, (load0, os.getloadavg()[0]))
    publish("inventory", section, write=not args.no_write)


if __name__ == "__main__":
    main()
