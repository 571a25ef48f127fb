"""Dynamic pricing benchmark (PROTOCOL section 4): every strategy and anchor on simulated markets.

Markets: ``pricing.ml.simulation.make_market`` (constant-elasticity and linear demand, elasticities in
[-3.5, -1.2] around category means, multiplicative noise, week-of-year seasonality and trends, finite
stock for about a third of the products, guardrails with MAP prices, step limits, intervals and
price endings), 240 products and 52 weekly periods per seed. Every strategy sees only its own prices
and sales; the simulator audits each price against the guardrails. Profit is scored against the
clairvoyant (the best price path with the true curve known, under the same guardrails and stock).

Also measured: recovery of true elasticities by the estimator (share inside the 90 % and 95 % intervals)
on a simulated shop history, and, for information, the estimator on the real data (the tier effect).

Tuning used seeds 101-104; the reported seeds are different (default 2024, 2025, 2026).
Results go to the ``## Dynamic pricing (PROTOCOL §4)`` section of bench/RESULTS.md, between the
``<!-- pricing:start -->`` / ``<!-- pricing:end -->`` markers (other sections are kept).

    python bench/pricing.py                 # full run (about 5-10 minutes on 2 shared cores)
    python bench/pricing.py --quick         # smoke run, prints only
    python bench/pricing.py --tuning        # the tuning-seed comparison that fixed the default
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # before bench/ (this file is bench/pricing.py; the package is pricing/)

from results_md import publish  # noqa: E402  (bench/ is on sys.path: the script's own folder)

from pricing.ml.demand_data import weekly_demand_panel  # noqa: E402
from pricing.ml.elasticity import ElasticityEstimator, loglog_ols  # noqa: E402
from pricing.ml.simulation import CONSTANT, LINEAR, Market, RunResult, Simulator, make_market  # noqa: E402
from pricing.ml.strategies import (  # noqa: E402
    ElasticityOptimizer,
    FixedPriceStrategy,
    MarkdownStrategy,
    PlainLogLogStrategy,
    PricingStrategy,
    ThompsonInventoryStrategy,
    default_strategy,
    greedy_strategy,
)

DATA = ROOT / "data" / "online_retail.csv.gz"
REGRET_AT = (4, 13, 26, 52)
TUNING_SEEDS = "101-108"
STRATEGY_SEED_OFFSET = 1_000_003

# name -> (factory(seed), role)
STRATEGIES: dict[str, tuple[Callable[[int], PricingStrategy], str]] = {
    "**default**: pooled optimiser (exploit)": (default_strategy, "default"),
    "fixed list price (= hold)": (lambda s: FixedPriceStrategy(random_state=s), "anchor"),
    "greedy refit-and-exploit (per-product model)": (greedy_strategy, "anchor"),
    "plain log-log fit (OLS, 3-week price test)": (lambda s: PlainLogLogStrategy(random_state=s), "anchor"),
    "pooled optimiser + Thompson exploration 0.25": (
        lambda s: ElasticityOptimizer(exploration=0.25, random_state=s), "ablation"),
    "pooled optimiser + full Thompson sampling": (
        lambda s: ElasticityOptimizer(exploration=1.0, random_state=s), "ablation"),
    "pooled optimiser without the curvature term": (
        lambda s: ElasticityOptimizer(estimator=ElasticityEstimator(curvature=False), random_state=s), "ablation"),
    "TS with inventory (Ferreira et al. 2018), pooled log-log posterior": (
        lambda s: ThompsonInventoryStrategy(random_state=s), "strategy"),
    "TS with inventory, independent Gamma-Poisson arms (as in the paper)": (
        lambda s: ThompsonInventoryStrategy(demand_model="independent", random_state=s), "strategy"),
    "markdown (overstock; sell-through rule)": (lambda s: MarkdownStrategy(random_state=s), "strategy"),
}
HINDSIGHT = "best fixed price in hindsight (sees the realised demand)"


def run_market(seed: int, n_products: int, n_periods: int, names: list[str]) -> dict:
    """Every strategy on one market; returns the per-product figures needed for the tables."""
    market = make_market(n_products, n_periods, seed=seed)
    sim = Simulator(market)
    t0 = time.perf_counter()
    clair = sim.clairvoyant()
    t_clair = time.perf_counter() - t0
    runs: dict[str, RunResult] = {}
    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    runs[HINDSIGHT] = sim.best_fixed_in_hindsight()
    seconds[HINDSIGHT] = time.perf_counter() - t0
    models = {}
    for name in names:
        factory, _ = STRATEGIES[name]
        # The strategy's random stream must not be the market's (same seed = correlated draws).
        strategy = factory(seed + STRATEGY_SEED_OFFSET)
        t0 = time.perf_counter()
        runs[name] = sim.run(strategy, name=name)
        seconds[name] = time.perf_counter() - t0
        if name.startswith("**default**"):
            models["default"] = (strategy.model_, runs[name])
        print(f"  seed {seed}: {name[:60]:60s} {seconds[name]:6.1f} s  share "
              f"{np.mean(runs[name].total_profit / clair.total_profit):.4f}", flush=True)
    return {"market": market, "clair": clair, "runs": runs, "seconds": seconds, "t_clair": t_clair,
            "models": models}


def mean_se(values: np.ndarray) -> tuple[float, float]:
    return float(np.mean(values)), float(np.std(values, ddof=1) / np.sqrt(len(values)))


def profit_table(results: list[dict], names: list[str]) -> tuple[list[str], dict[str, float]]:
    """Profit share of the clairvoyant per strategy, overall and per market type."""
    markets = [r["market"] for r in results]
    kind = np.concatenate([m.kind for m in markets])
    finite = np.concatenate([np.isfinite(m.stock) for m in markets])
    clair_total = np.concatenate([r["clair"].total_profit for r in results])
    default_share = None
    lines = [
        "| strategy | role | profit share, mean ± s.e. | per seed | Σprofit / Σclairvoyant | constant-elasticity "
        "| linear | finite stock | unlimited stock | vs default (paired) | violations |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    headline: dict[str, float] = {}
    for name in [names[0], HINDSIGHT, *names[1:]]:
        total = np.concatenate([r["runs"][name].total_profit for r in results])
        share = total / clair_total
        if default_share is None:
            default_share = share
        mean, se = mean_se(share)
        headline[name] = mean
        diff, diff_se = mean_se(share - default_share)
        violations = sum(len(r["runs"][name].violations) for r in results)
        role = "yardstick" if name == HINDSIGHT else STRATEGIES[name][1]
        vs = "—" if name == names[0] else f"{diff:+.4f} ± {diff_se:.4f}"
        per_seed = " / ".join(f"{np.mean(r['runs'][name].total_profit / r['clair'].total_profit):.3f}"
                              for r in results)
        lines.append(
            f"| {name} | {role} | {mean:.4f} ± {se:.4f} | {per_seed} | {total.sum() / clair_total.sum():.4f} "
            f"| {share[kind == CONSTANT].mean():.4f} | {share[kind == LINEAR].mean():.4f} "
            f"| {share[finite].mean():.4f} | {share[~finite].mean():.4f} | {vs} | "
            f"{violations if name != HINDSIGHT else '—'} |")
    return lines, headline


def regret_table(results: list[dict], names: list[str]) -> list[str]:
    """Cumulative regret against the clairvoyant after 4, 13, 26 and 52 periods (% of its 52-period profit)."""
    clair = np.sum([r["clair"].profit.sum(axis=0) for r in results], axis=0)
    scale = clair.sum()
    head = " | ".join(f"period {t}" for t in REGRET_AT)
    lines = [f"| strategy | {head} |", "|---|" + "---|" * len(REGRET_AT)]
    for name in [names[0], HINDSIGHT, *names[1:]]:
        profit = np.sum([r["runs"][name].profit.sum(axis=0) for r in results], axis=0)
        regret = np.cumsum(clair - profit) / scale * 100.0
        cells = " | ".join(f"{regret[t - 1]:.2f} %" for t in REGRET_AT if t <= len(regret))
        lines.append(f"| {name} | {cells} |")
    return lines


def simulated_history(seed: int, n_products: int, n_periods: int) -> tuple[Market, np.ndarray, np.ndarray, np.ndarray]:
    """A shop's past prices (occasional list-price changes, short promotions; a fifth never changed) and sales."""
    market = make_market(n_products, n_periods, seed=seed, linear_share=0.0, stock_share=0.0)
    rng = np.random.default_rng(seed + 1)
    prices = np.empty((n_products, n_periods))
    fixed = rng.random(n_products) < 0.2
    for i in range(n_products):
        level = market.list_price[i]
        for t in range(n_periods):
            if not fixed[i] and rng.random() < 0.12:
                level = market.list_price[i] * np.exp(rng.normal(0.0, 0.12))
            promo = not fixed[i] and rng.random() < 0.05
            prices[i, t] = level * (0.85 if promo else 1.0)
    units = np.stack([market.demand(t, prices[:, t]) for t in range(n_periods)], axis=1)
    return market, prices, units, fixed


def recovery_tables(seeds: list[int], n_products: int, results: list[dict]) -> list[str]:
    """Share of true elasticities inside the estimated intervals, offline history and online runs."""
    lines = ["| data | products | level | inside the interval | mean abs. error | median interval width |",
             "|---|---|---|---|---|---|"]
    rows: dict[str, list[np.ndarray]] = {}
    for seed in seeds:
        market, prices, units, fixed = simulated_history(seed + 7, n_products, 78)
        for level in (0.90, 0.95):
            est = ElasticityEstimator(ci=level).fit_panel(prices, units, category=market.category)
            inside = (market.elasticity >= est.ci_low_) & (market.elasticity <= est.ci_high_)
            err = np.abs(est.elasticity_ - market.elasticity)
            width = est.ci_high_ - est.ci_low_
            for label, sel in ((f"all {level:.0%}", slice(None)), (f"price moved {level:.0%}", ~fixed),
                               (f"price never moved (pooled to category) {level:.0%}", fixed)):
                rows.setdefault(label, []).append(np.c_[inside[sel], err[sel], width[sel]])
        bare = ElasticityEstimator(ci=0.90, harmonics=0, trend=False).fit_panel(prices, units, category=market.category)
        inside = (market.elasticity >= bare.ci_low_) & (market.elasticity <= bare.ci_high_)
        rows.setdefault("no season/trend controls 90%", []).append(
            np.c_[inside, np.abs(bare.elasticity_ - market.elasticity), bare.ci_high_ - bare.ci_low_])
        alone = ElasticityEstimator(ci=0.90, pool=False).fit_panel(prices, units, category=market.category)
        inside = (market.elasticity >= alone.ci_low_) & (market.elasticity <= alone.ci_high_)
        rows.setdefault("no pooling (each product alone) 90%", []).append(
            np.c_[inside, np.abs(alone.elasticity_ - market.elasticity), alone.ci_high_ - alone.ci_low_])
    for label, chunks in rows.items():
        a = np.vstack(chunks)
        name, level = label.rsplit(" ", 1)
        lines.append(f"| shop history, 78 weeks: {name} | {len(a)} | {level} | **{a[:, 0].mean():.3f}** "
                     f"| {a[:, 1].mean():.3f} | {np.median(a[:, 2]):.3f} |")
    # Online: the default strategy's own model after 52 weeks, local elasticity at its final price.
    inside_all, err_all, width_all = [], [], []
    for r in results:
        if "default" not in r["models"]:
            continue
        model, run = r["models"]["default"]
        market = r["market"]
        sel = market.kind == CONSTANT
        x = np.log(run.prices[:, -1] / model.reference_price_)
        cov = model.coef_cov_
        local = model.coef_[:, 1] + 2 * model.coef_[:, 2] * x
        sd = np.sqrt(cov[:, 1, 1] + 4 * x ** 2 * cov[:, 2, 2] + 4 * x * cov[:, 1, 2])
        truth = market.elasticity
        inside_all.append(((truth >= local - 1.645 * sd) & (truth <= local + 1.645 * sd))[sel])
        err_all.append(np.abs(local - truth)[sel])
        width_all.append((2 * 1.645 * sd)[sel])
    if inside_all:
        inside, err, width = (np.concatenate(v) for v in (inside_all, err_all, width_all))
        lines.append(f"| default strategy's own data after 52 weeks (constant-elasticity products) | {len(inside)} "
                     f"| 90% | **{inside.mean():.3f}** | {err.mean():.3f} | {np.median(width):.3f} |")
    return lines


def real_data_table() -> list[str]:
    """The estimator on the real data: tier discounts, naive line-level slope vs the weekly panel."""
    if not DATA.exists():
        return ["(real data not found)"]
    df = pd.read_csv(DATA, dtype={"InvoiceNo": str, "StockCode": str}, keep_default_na=False, na_values=[""],
                     parse_dates=["InvoiceDate"])
    df = df[~df["InvoiceNo"].str.startswith(("C", "A")) & (df["Quantity"] > 0) & (df["UnitPrice"] > 0)]
    df = df.assign(StockCode=df["StockCode"].str.upper())
    df = df[df["StockCode"].str.match(r"^\d{5}")]
    panel = weekly_demand_panel(df, product="StockCode", date="InvoiceDate", quantity="Quantity", price="UnitPrice")
    active = panel.observed.sum(axis=1) >= 20
    category = pd.factorize(pd.Series(panel.products[active]).str[:3])[0]
    est = ElasticityEstimator(ci=0.90).fit_panel(panel.price[active], panel.units[active], periods=panel.periods,
                                                 weight=panel.weight[active], category=category)
    g = pd.factorize(df["StockCode"])[0]
    x, y = np.log(df["UnitPrice"].to_numpy()), np.log(df["Quantity"].to_numpy(dtype=float))
    counts = np.bincount(g)
    xm, ym = x - (np.bincount(g, x) / counts)[g], y - (np.bincount(g, y) / counts)[g]
    naive = float((xm * ym).sum() / (xm * xm).sum())
    weekly_slope, _ = loglog_ols(panel.price[active], panel.units[active], panel.weight[active])
    tiers = ", ".join(f"{b}+: {np.exp(e):.2f}" for b, e in zip(panel.tier_bounds, panel.tier_effects, strict=True))
    q = np.percentile(est.elasticity_, [25, 50, 75])
    return [
        f"Real data (UCI Online Retail, CC BY 4.0): {len(df):,} sale lines, {int(active.sum()):,} products with "
        f"sales in at least 20 weeks, {len(panel.weeks)} weeks; categories = first three digits of the StockCode.",
        "",
        f"- Unit price by quantity tier, relative to single units (pooled over products and weeks): {tiers}.",
        f"- Naive within-product slope of log line quantity on log line unit price: **{naive:.2f}** — "
        "the tier schedule, not a demand response.",
        f"- Plain per-product OLS on the tier-adjusted weekly panel (weeks with sales): median "
        f"{np.nanmedian(weekly_slope):.2f}.",
        f"- Pooled estimator on the weekly panel (season + trend controls): median elasticity **{q[1]:.2f}** "
        f"(quartiles {q[0]:.2f} / {q[2]:.2f}); 90 % interval below 0 for {np.mean(est.ci_high_ < 0):.0%} of "
        f"products, below -1 for {np.mean(est.ci_high_ < -1):.0%}; median shrinkage {np.median(est.shrinkage_):.2f}.",
    ]


def reading(headline: dict[str, float], names: list[str]) -> list[str]:
    """What the profit table says about exploration, pooling and curvature (worded from this run's numbers)."""
    default = headline[names[0]]
    lines = []
    explore = {n: v for n, v in headline.items() if "Thompson" in n and n.startswith("pooled")}
    if explore:
        best = max(explore.values())
        lines.append(
            "- Exploration: the Thompson rows earn " + ", ".join(f"{v:.1%}" for v in explore.values())
            + f" against the exploiting default's {default:.1%} "
            + ("(less)" if best <= default else "(the best of them more, here)") + ". The default was fixed on "
            f"the tuning seeds {TUNING_SEEDS} (`python bench/pricing.py --tuning`), where every exploration "
            "scale earned less on average over independent random streams; the spread between streams is large "
            "because pooled estimates tie the products of a market together, so one market's products are not "
            "independent draws (read the per-seed column, not only the s.e.).")
    greedy = headline.get("greedy refit-and-exploit (per-product model)")
    if greedy is not None:
        lines.append(
            "- Pooling is what pays: the same optimiser on a per-product model (the greedy anchor) earns "
            f"{greedy:.1%}. "
            "The issue's \"beats greedy\" is met against greedy on that per-product model; against the same pooled "
            "model the default *is* the greedy (refit-and-exploit) policy.")
    flat = headline.get("pooled optimiser without the curvature term")
    if flat is not None:
        lines.append(
            f"- The curvature term matters ({flat:.1%} without it): with a constant-elasticity model a noisy "
            "elasticity near -1 sends the Lerner price c·e/(1+e) far off, and linear curves are not followed.")
    return lines


def section(results: list[dict], names: list[str], recovery: list[str], real: list[str], command: str,
            seeds: list[int], load: tuple[float, float], wall: float) -> str:
    n_products = sum(r["market"].n_products for r in results)
    n_periods = results[0]["market"].n_periods
    markets = [r["market"] for r in results]
    finite = int(sum(np.isfinite(m.stock).sum() for m in markets))
    linear = int(sum((m.kind == LINEAR).sum() for m in markets))
    profit_lines, headline = profit_table(results, names)
    default = headline[names[0]]
    greedy = headline.get("greedy refit-and-exploit (per-product model)")
    plain = headline.get("plain log-log fit (OLS, 3-week price test)")
    violations = sum(len(r["runs"][names[0]].violations) for r in results)
    seconds = {n: np.mean([r["seconds"][n] for r in results]) for n in names}
    verdict = [
        f"- Default strategy: **{default:.1%}** of the clairvoyant profit (mean over {n_products} products); "
        f"target ≥ 95 %: **{'met' if default >= 0.95 else 'missed'}**.",
    ]
    if greedy is not None and plain is not None:
        verdict.append(f"- Beats greedy ({greedy:.1%}) and plain log-log ({plain:.1%}): "
                       f"**{'yes' if default > greedy and default > plain else 'no'}**. Guardrail violations of "
                       f"the default: **{violations}** (every strategy's count is in the table).")
    out = [
        "## Dynamic pricing (PROTOCOL §4)",
        "",
        f"Command: `{command}` — {dt.date.today().isoformat()}, {platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}; load average {load[0]:.1f} at the start, {load[1]:.1f} at the end "
        f"(shared cores); wall time {wall / 60:.1f} min.",
        "",
        f"Markets: seeds {', '.join(map(str, seeds))} (tuning used seeds {TUNING_SEEDS}, not reported here); "
        f"{n_products} products in all ({linear} linear-demand, {n_products - linear} constant-elasticity; "
        f"{finite} with finite stock), {n_periods} weekly periods. Elasticities at the optimum in [-3.5, -1.2] "
        "around 20 category means (within-category sd 0.35); log-normal noise (sd 0.10-0.35) and Poisson counts; "
        "week-of-year seasonality (two harmonics per category, a holiday bump in some) and a trend per product; "
        "list prices 0-30 % off the optimum; guardrails: cost + 10 % floor, MAP on 15 % of products, ceiling "
        "2 × list, 15 % max step, 1- or 2-week interval, endings (cents < 1, .x9 < 10, .99 < 100, .95 < 1000). "
        "The policies see only their own prices and sales (plus costs, stock, categories, guardrails).",
        "",
        "Clairvoyant: the best price path with the true expected demand known, under the same guardrails "
        "and stock (dynamic programming over a 1 % price ladder; a shadow price for the stock), played against the "
        "same demand shocks as every policy. Best fixed price in hindsight: per product, the ladder price whose "
        "guardrail walk earned most on the realised demand — it sees the shocks, so it can beat the clairvoyant.",
        "",
        *verdict,
        "",
        "**Profit as a share of the clairvoyant's** (per product, then averaged; s.e. over products; the paired "
        "column is the mean per-product difference to the default):",
        "",
        *profit_lines,
        "",
        "**Cumulative regret** against the clairvoyant, summed over products, as % of the clairvoyant's "
        f"{n_periods}-period profit:",
        "",
        *regret_table(results, names),
        "",
        "**Elasticity recovery** on simulated data (constant-elasticity demand, so the true elasticity is one "
        "number; pooled estimator with season and trend controls unless the row says otherwise):",
        "",
        *recovery,
        "",
        *real,
        "",
        "Reading the tables:",
        "",
        *reading(headline, names),
        "- The markdown rule is built for overstock and sell-through; stock here is scarce (40-90 % of the "
        "demand at the optimum), so it mostly holds the list price.",
        "- The clairvoyant plan is open-loop (it does not re-plan after the shocks), so a learning policy can "
        "beat it on single stocked products; averaged over products it is the yardstick.",
        f"- Time per 52-period run of {results[0]['market'].n_products} products (2 shared cores): "
        + ", ".join(f"{n.split(':')[0].replace('**', '')} {seconds[n]:.1f} s" for n in names[:4])
        + f"; clairvoyant {np.mean([r['t_clair'] for r in results]):.1f} s.",
        "",
    ]
    return "\n".join(out) + "\n"


def tuning(n_products: int, n_periods: int) -> None:
    """The comparison that fixed the default: exploitation vs Thompson exploration on the tuning seeds."""
    seeds = list(range(101, 109))
    variants: dict[str, Callable[[int], PricingStrategy]] = {"exploit (default)": default_strategy}
    for scale in (0.15, 0.25, 0.4):
        for stream in (500_009, 900_001):
            variants[f"Thompson {scale}, stream {stream}"] = (
                lambda s, scale=scale, stream=stream: ElasticityOptimizer(exploration=scale, random_state=s + stream))
    shares: dict[str, list[float]] = {name: [] for name in variants}
    for seed in seeds:
        market = make_market(n_products, n_periods, seed=seed)
        sim = Simulator(market)
        clair = sim.clairvoyant().total_profit
        for name, factory in variants.items():
            shares[name].append(float(np.mean(sim.run(factory(seed)).total_profit / clair)))
        print(f"  tuning seed {seed} done", flush=True)
    base = np.array(shares["exploit (default)"])
    print(f"| variant | mean share over seeds {seeds[0]}-{seeds[-1]} | vs exploit (mean ± s.e. over seeds) |")
    print("|---|---|---|")
    for name, values in shares.items():
        diff = np.array(values) - base
        print(f"| {name} | {np.mean(values):.4f} | {diff.mean():+.4f} ± {diff.std(ddof=1) / np.sqrt(len(diff)):.4f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", default="2024,2025,2026", help="market seeds (comma-separated)")
    parser.add_argument("--products", type=int, default=240, help="products per market")
    parser.add_argument("--periods", type=int, default=52, help="weekly periods")
    parser.add_argument("--quick", action="store_true",
                        help="60 products, one seed, the four headline rows; prints only (never writes RESULTS.md)")
    parser.add_argument("--skip-real", action="store_true", help="leave out the real-data table")
    parser.add_argument("--no-write", action="store_true", help="print only; leave bench/RESULTS.md alone")
    parser.add_argument("--tuning", action="store_true", help="only the tuning-seed comparison that fixed the default")
    args = parser.parse_args()
    if args.tuning:
        tuning(args.products, args.periods)
        return
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    names = list(STRATEGIES)
    if args.quick:
        seeds, args.products, names = seeds[:1], 60, names[:4]
    load_start = os.getloadavg()[0]
    t0 = time.perf_counter()
    results = [run_market(seed, args.products, args.periods, names) for seed in seeds]
    print("  elasticity recovery ...", flush=True)
    recovery = recovery_tables(seeds, args.products, results)
    real = [] if args.skip_real or args.quick else real_data_table()
    command = ("python bench/pricing.py " + " ".join(sys.argv[1:])).strip()
    text = section(results, names, recovery, real, command, seeds, (load_start, os.getloadavg()[0]),
                   time.perf_counter() - t0)
    publish("pricing", text, write=not (args.no_write or args.quick))


if __name__ == "__main__":
    main()
