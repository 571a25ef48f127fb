"""Dynamic pricing benchmark (PROTOCOL §4b): every strategy and anchor on a suite of eight market families.

The families are in ``bench/markets.py`` (constant elasticity, linear, logit substitutes, reference
price, demand shocks, long tail, stock without restock, seasonal with less than a season of history),
100 products × 52 weeks per market (``seasonal``: 40 weeks). Every strategy is driven through the
documented ``pricing.ml`` interface (``propose`` / ``observe``), sees only its own prices and sales,
and every price is audited against the guardrails (floor 1.05 × cost, ceiling 2.5 × list, at most 10 %
a week). Profit share = Σ profit / Σ clairvoyant profit over a market's products, then the mean over
seeds; the worst week = the lowest weekly Σ profit / Σ clairvoyant of any seed from week 4 on.

Anchors in the same run: the fixed list price, the best fixed price in hindsight (per product the
target on a 41-point ladder of 0.5-2.5 × list whose 10 %-a-week walk earned most on the realised
demand; per category for ``logit``), a greedy log-log refit (``GreedyLogLogRefit`` below: per-product
OLS on all weeks so far, then the Lerner price, no exploration), ``PlainLogLogStrategy``, and the
clairvoyant path limited to the step size.

Seeds and the selection rule (written down before the scored run):

- Development seeds 1-4 (``--dev``). Every setting of the default is chosen among variants screened on
  all four development seeds and all eight families, 100 products per market (``--dev``, the test's size:
  at 40 products a category of the separable families holds 4 products instead of 10, which changes the
  pooling; the screening is ``DEV_SCREENING``). Rule, fixed before the test seeds are run: among the
  variants whose development mean beats every anchor (fixed list price, greedy refit,
  ``PlainLogLogStrategy``) in every family, the one with the highest mean share over the eight families;
  if no variant does, the one that loses in the fewest families, then the highest mean. Ties (within
  0.002) go to the simpler one (the fewer changes from the previous default), and between equally simple
  ones to the one with the larger smallest margin over an anchor.
- Test seeds 501-505 (the default; ``--seeds`` overrides), 100 products per market, every family:
  seeds 101-103, 201-205, 301-305 and 401-405 were looked at while earlier defaults were developed, so
  they are spent (401-405 are development seeds now); the chosen default is scored once on 501-505 (the
  rule of that run: ``bench/pricing_rule_2026-12-08.md``), and the table in bench/RESULTS.md is that run.
  Nothing is changed after it.
- Anchors to beat: the fixed list price, the greedy log-log refit and ``PlainLogLogStrategy``. The best
  fixed price in hindsight and the step-limited clairvoyant path are oracles (they know the realised or
  the expected demand), shown as yardsticks: where the optimum does not move over the season (constant
  elasticity) the best fixed price *is* the clairvoyant, so no learning policy can beat it there.

    python bench/pricing.py               # test seeds, writes the pricing section of bench/RESULTS.md
    python bench/pricing.py --dev         # development seeds, prints only
    python bench/pricing.py --quick       # 2 families × 1 dev seed × 40 products, prints only
"""
from __future__ import annotations

import argparse
import datetime as dt
import math
import multiprocessing as mp
import os
import pickle
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # before bench/ (this file is bench/pricing.py; the package is pricing/)

from markets import FAMILIES, SuiteMarket, make_suite_market, walk  # noqa: E402
from results_md import publish  # noqa: E402  (bench/ is on sys.path: the script's own folder)

from pricing.ml.elasticity import ElasticityEstimator, loglog_ols  # noqa: E402
from pricing.ml.guardrails import audit_price  # noqa: E402
from pricing.ml.optimize import optimal_price  # noqa: E402
from pricing.ml.robust import RobustPricingStrategy, default_strategy  # noqa: E402
from pricing.ml.simulation import Simulator  # noqa: E402
from pricing.ml.strategies import (  # noqa: E402
    ElasticityOptimizer,
    FixedPriceStrategy,
    PlainLogLogStrategy,
    PricingContext,
    PricingStrategy,
)

DEV_SEEDS = (1, 2, 3, 4)
TEST_SEEDS = (501, 502, 503, 504, 505)
STRATEGY_SEED_OFFSET = 1_000_003
WORST_FROM = 4
# The screening on development seeds 1-4 that fixed the default's settings (share of the clairvoyant, mean of the
# four seeds; every family, 100 products per market; `--dev --set ...`).
DEV_SCREENING = """\
| variant (development seeds 1-4, 100 products) | constant | linear | logit | reference | shocks | long-tail \
| stock | seasonal | mean | loses to an anchor in |
|---|---|---|---|---|---|---|---|---|---|---|
| the 2026-12-04 default | 0.981 | 0.960 | 0.939 | 0.962 | 0.966 | 0.967 | 0.957 | 0.982 | 0.964 | reference |
| S: + the three safety changes (trend prior by the history's span, the pace check on stock, a curve that \
never rises with the price) | 0.980 | 0.959 | 0.934 | 0.965 | 0.966 | 0.970 | 0.976 | 0.976 | 0.966 | reference \
(0.965 vs 0.975) |
| S + `amortize=True`, `confidence=0.7` (B) | 0.983 | 0.957 | 0.941 | 0.974 | 0.962 | 0.974 | 0.976 | 0.979 \
| 0.968 | reference (0.974 vs 0.975) |
| **chosen**: B + `min_tau=0.5` | 0.982 | 0.953 | 0.938 | 0.980 | 0.960 | 0.973 | 0.974 | 0.976 | 0.967 | none |
| B + `min_tau=0.3` | 0.982 | 0.956 | 0.942 | 0.976 | 0.961 | 0.974 | 0.975 | 0.978 | 0.968 | none (reference \
0.976 vs 0.975) |
| B, `confidence=0.8` | 0.979 | 0.941 | 0.938 | 0.980 | 0.957 | 0.973 | 0.976 | 0.971 | 0.964 | seasonal \
(0.971, a tie) |
| B + `min_tau=0.3` + the list price as an observation of the elasticity (sd 1.0) | 0.981 | 0.941 | 0.941 \
| 0.981 | 0.955 | 0.965 | 0.975 | 0.976 | 0.964 | none |
| anchors: fixed list price | 0.969 | 0.892 | 0.908 | 0.975 | 0.940 | 0.962 | 0.724 | 0.971 | 0.918 | |
| greedy log-log refit | 0.960 | 0.845 | 0.794 | 0.943 | 0.869 | 0.825 | 0.641 | 0.899 | 0.847 | |
| PlainLogLogStrategy | 0.958 | 0.889 | 0.759 | 0.943 | 0.847 | 0.683 | 0.633 | 0.881 | 0.824 | |

Three variants beat every anchor in every family; `min_tau` 0.5 and 0.3 are within 0.002 and equally simple, and \
0.5 has the larger smallest margin (0.005 against 0.001), so it is the default. Also screened and dropped \
(bench/pricing_rule_2026-12-08.md has every row): the season's harmonics scaled by the span too (seasonal \
0.951), 64 posterior draws (0.966: the gate's draws alone move the mean by about 0.002), `min_units=20`, \
partial steps where the gain is more likely than not but below the confidence, the list price as an \
observation of the elasticity at sd 0.5 (0.952: prices stay at the list price, nothing is learned). The other \
settings (32 posterior draws, hold below 30 units sold, `rise_prior=0`, `follow="category"`) are the previous \
default's. Cost: about 2.5 min wall per variant on 2 quiet cores.
"""
CLAIR, STEPPED, HINDSIGHT = "clairvoyant", "clairvoyant path limited to 10 %/week", "best fixed price in hindsight"


class GreedyLogLogRefit(PricingStrategy):
    """Anchor: per product, OLS of log units on log price over every week so far (weeks with sales), the
    slope clipped to [-6, -1.1], then the Lerner price ``c e / (1 + e)``; the prior -2 until a slope exists.
    Always exploits: it only learns from the moves its own estimates make."""

    name = "greedy-refit"

    def targets(self, period: int, context: PricingContext) -> np.ndarray:
        cost = np.asarray(context.unit_cost, dtype=float)
        if not self.periods_:
            return optimal_price(np.full(context.n_products, -2.0), cost)
        _, prices, units, usable = self.history()
        slope, _ = loglog_ols(prices, units, usable.astype(float))
        beta = np.where(np.isfinite(slope), np.clip(slope, -6.0, -1.1), -2.0)
        return optimal_price(beta, cost)


# name -> (factory(random_state), role)
STRATEGIES: dict[str, tuple[Callable[[int], PricingStrategy], str]] = {
    "**default**": (default_strategy, "default"),
    "fixed list price": (lambda s: FixedPriceStrategy(random_state=s), "anchor"),
    "greedy log-log refit": (lambda s: GreedyLogLogRefit(random_state=s), "anchor"),
    "PlainLogLogStrategy": (lambda s: PlainLogLogStrategy(random_state=s), "anchor"),
    "2026-12-04 settings (amortize off, confidence 0.6, min_tau 0.05)": (
        lambda s: RobustPricingStrategy(amortize=False, confidence=0.6, estimator=ElasticityEstimator(curvature=True),
                                        random_state=s), "for comparison"),
    "pooled optimiser, season + trend (an earlier default)": (lambda s: ElasticityOptimizer(random_state=s),
                                                              "for comparison"),
}


# ------------------------------------------------------------------------------------------ playing
def play(market: SuiteMarket, paths: np.ndarray) -> np.ndarray:
    """Profit ``(n, [m,] T)`` of fixed price paths ``(n, T)`` or ``(n, m, T)`` (m whole-market paths)."""
    paths = np.asarray(paths, dtype=float)
    stock = market.stock.copy() if paths.ndim == 2 else np.repeat(market.stock[:, None], paths.shape[1], axis=1)
    state = market.start_state(paths.shape[1:-1])
    profit = np.zeros_like(paths)
    cost = market.unit_cost[(slice(None),) + (None,) * (paths.ndim - 2)]
    for t in range(paths.shape[-1]):
        p = paths[..., t]
        sold = np.minimum(market.realise(t, market.mean_demand(t, p, state)), stock)
        stock = stock - sold
        state = market.next_state(state, p)
        profit[..., t] = (p - cost) * sold
    return profit


def run_strategy(market: SuiteMarket, strategy: PricingStrategy) -> tuple[np.ndarray, np.ndarray, int]:
    """Drive ``strategy`` for every week; returns ``(prices, profit, violations)``."""
    strategy.reset()
    n, horizon = market.n_products, market.n_periods
    price, stock = market.list_price.copy(), market.stock.copy()
    last = np.full(n, np.nan)
    state = market.start_state()
    prices, profit = np.zeros((n, horizon)), np.zeros((n, horizon))
    violations = 0
    costs = [float(c) for c in market.unit_cost]
    for t in range(horizon):
        context = PricingContext(current_price=price.copy(), unit_cost=market.unit_cost.copy(),
                                 policies=market.policies, stock_remaining=stock.copy(), periods_left=horizon - t,
                                 category=market.category.copy(), last_changed=last.copy())
        new = np.asarray(strategy.propose(t, context), dtype=float)
        if new.shape != (n,) or not np.all(np.isfinite(new)):
            raise ValueError(f"{type(strategy).__name__}.propose returned an invalid price vector")
        for i in range(n):
            if audit_price(new[i], current_price=price[i], unit_cost=costs[i], policy=market.policies[i], now=t,
                           last_changed_at=None if math.isnan(last[i]) else last[i]):
                violations += 1
        sold = np.minimum(market.realise(t, market.mean_demand(t, new, state)), stock)
        stock -= sold
        state = market.next_state(state, new)
        prices[:, t], profit[:, t] = new, (new - market.unit_cost) * sold
        last = np.where(np.abs(new - price) > 1e-9, float(t), last)
        price = new
        strategy.observe(new, sold)
    return prices, profit, violations


def free_path(market: SuiteMarket) -> np.ndarray:
    """Without a step limit the best path is the best ladder price of each week on its own; with stock,
    with the shadow price of a unit (bisection) at which expected sales just fit the stock."""
    ladders = Simulator(market).ladders()  # type: ignore[arg-type]
    width = max(len(lad) for lad in ladders)
    grid = np.array([np.pad(lad, (0, width - len(lad)), constant_values=np.nan) for lad in ladders])
    valid = np.isfinite(grid)
    safe = np.where(valid, grid, 1.0)
    mean = np.where(valid[:, None, :], np.stack([market.expected_demand(t, safe) for t in range(market.n_periods)],
                                                axis=1), 0.0)  # (n, T, K)
    margin = np.where(valid, safe - market.unit_cost[:, None], 0.0)

    def best(lam: np.ndarray) -> np.ndarray:
        return np.argmax((margin - lam[:, None])[:, None, :] * mean + np.where(valid, 0.0, -1e18)[:, None, :], axis=2)

    def sales(idx: np.ndarray) -> np.ndarray:
        return np.take_along_axis(mean, idx[:, :, None], axis=2)[:, :, 0].sum(axis=1)

    lam_lo, lam_hi = np.zeros(market.n_products), np.nanmax(grid, axis=1)
    idx = best(lam_lo)
    short = sales(idx) > market.stock
    for _ in range(30):
        mid = 0.5 * (lam_lo + lam_hi)
        fits = sales(best(mid)) <= market.stock
        lam_hi, lam_lo = np.where(fits, mid, lam_hi), np.where(fits, lam_lo, mid)
    idx = np.where(short[:, None], best(lam_hi), idx)
    return np.take_along_axis(safe, idx, axis=1)


def clairvoyants(market: SuiteMarket) -> tuple[np.ndarray, np.ndarray]:
    """Profit ``(n, T)`` of the clairvoyant, and of the clairvoyant path limited to the step size."""
    if market.separable:
        free = play(market, free_path(market))
        stepped = Simulator(market).clairvoyant().profit  # type: ignore[arg-type]
    elif market.logit is not None:
        free = play(market, walk(market, market.optimum_price, None))
        stepped = play(market, walk(market, market.optimum_price, 0.10))
    else:
        candidates = [play(market, walk(market, market.optimum_price, step)) for step in (None, 0.02, 0.05, 0.10)]
        totals = np.stack([c.sum(axis=1) for c in candidates])
        stack, rows = np.stack(candidates), np.arange(market.n_products)
        free, stepped = stack[totals.argmax(axis=0), rows], stack[1:][totals[1:].argmax(axis=0), rows]
    # Open-loop plans met by the realised shocks: per product, the better of the two is the yardstick.
    better = stepped.sum(axis=1) > free.sum(axis=1)
    return np.where(better[:, None], stepped, free), stepped


def hindsight(market: SuiteMarket) -> np.ndarray:
    """Profit ``(n, T)`` of the best fixed target in hindsight (see the module docstring)."""
    multipliers = np.exp(np.linspace(math.log(0.5), math.log(2.5), 41))
    paths = np.stack([walk(market, market.list_price * m, 0.10) for m in multipliers], axis=1)
    profit = play(market, paths)  # (n, m, T)
    totals = profit.sum(axis=2)
    if market.logit is not None:
        by_category = np.zeros((int(market.category.max()) + 1, len(multipliers)))
        np.add.at(by_category, market.category, totals)
        best = by_category.argmax(axis=1)[market.category]
    else:
        best = totals.argmax(axis=1)
    return profit[np.arange(market.n_products), best]


def run_market(job: tuple[str, int, int, list[str]]) -> dict:
    """Every strategy and yardstick on one market (one worker's job)."""
    family, seed, n_products, names = job
    market = make_suite_market(family, seed, n_products)
    t0 = time.perf_counter()
    free, stepped = clairvoyants(market)
    weekly = {CLAIR: free.sum(axis=0), STEPPED: stepped.sum(axis=0), HINDSIGHT: hindsight(market).sum(axis=0)}
    seconds, violations, raises = {}, {}, {}
    for name in names:
        t0 = time.perf_counter()
        prices, profit, broken = run_strategy(market, STRATEGIES[name][0](seed + STRATEGY_SEED_OFFSET))
        seconds[name] = time.perf_counter() - t0
        weekly[name], violations[name] = profit.sum(axis=0), broken
        moves = np.diff(np.c_[market.list_price, prices], axis=1)
        raises[name] = float((moves > 1e-9).mean())
    print(f"  {family:10s} seed {seed:4d}: " + ", ".join(
        f"{n.replace('*', '')[:14]} {weekly[n].sum() / weekly[CLAIR].sum():.3f}" for n in [STEPPED, HINDSIGHT, *names]),
        flush=True)
    return {"family": family, "seed": seed, "weekly": weekly, "seconds": seconds, "violations": violations,
            "raises": raises}


# ------------------------------------------------------------------------------------------ tables
def summarise(results: list[dict], names: list[str]) -> dict:
    """share[name][family] = list over seeds; worst[name][family] = lowest week share from WORST_FROM on."""
    rows = [STEPPED, HINDSIGHT, *names]
    share: dict[str, dict[str, list[float]]] = {r: {} for r in rows}
    worst: dict[str, dict[str, float]] = {r: {} for r in rows}
    for res in results:
        clair = res["weekly"][CLAIR]
        for r in rows:
            w = res["weekly"][r]
            share[r].setdefault(res["family"], []).append(float(w.sum() / clair.sum()))
            week = w[WORST_FROM:] / np.maximum(clair[WORST_FROM:], 1e-9)
            worst[r][res["family"]] = min(worst[r].get(res["family"], math.inf), float(week.min()))
    return {"share": share, "worst": worst}


def tables(results: list[dict], names: list[str], families: list[str]) -> tuple[list[str], dict]:
    summary = summarise(results, names)
    share, worst = summary["share"], summary["worst"]
    head = " | ".join(families)
    lines = [f"| strategy | role | {head} | mean | worst week ≥ {WORST_FROM} | violations |",
             "|---|---|" + "---|" * (len(families) + 3)]
    for r in [*names[:1], STEPPED, HINDSIGHT, *names[1:]]:
        role = STRATEGIES[r][1] if r in STRATEGIES else "yardstick"
        cells = " | ".join(f"{np.mean(share[r][f]):.3f}" for f in families)
        mean = np.mean([np.mean(share[r][f]) for f in families])
        low = min(worst[r][f] for f in families)
        broken = sum(res["violations"].get(r, 0) for res in results) if r in STRATEGIES else "—"
        lines.append(f"| {r} | {role} | {cells} | **{mean:.3f}** | {low:.2f} | {broken} |")
    return lines, summary


def verdict(summary: dict, names: list[str], families: list[str], results: list[dict]) -> list[str]:
    share, worst = summary["share"], summary["worst"]
    default = names[0]
    anchors = [n for n in names if STRATEGIES[n][1] == "anchor"]
    mean = float(np.mean([np.mean(share[default][f]) for f in families]))
    lost = [f"{f} ({a}: {np.mean(share[a][f]):.3f} vs {np.mean(share[default][f]):.3f})"
            for f in families for a in anchors if np.mean(share[a][f]) >= np.mean(share[default][f])]
    low = {f: worst[default][f] for f in families}
    below = [f"{f} {v:.2f}" for f, v in low.items() if v < 0.6]
    broken = sum(res["violations"].get(default, 0) for res in results)
    return [
        "- Beats every anchor (fixed list price, greedy refit, PlainLogLogStrategy; the oracles are yardsticks) "
        f"in every family: **{'yes' if not lost else 'no'}**"
        + ("" if not lost else " — not against: " + "; ".join(lost)) + ".",
        f"- Mean share of the clairvoyant over families: **{mean:.3f}** (target ≥ 0.97: "
        f"**{'met' if mean >= 0.97 else 'missed'}**).",
        f"- Worst week from week {WORST_FROM} on, any seed: " + ", ".join(f"{f} {v:.2f}" for f, v in low.items())
        + f" (target ≥ 0.6: **{'met' if not below else 'missed'}**" + ("" if not below else ": " + ", ".join(below))
        + ").",
        f"- Guardrail violations of the default: **{broken}**.",
    ]


def per_seed_lines(summary: dict, names: list[str], families: list[str], seeds: list[int]) -> list[str]:
    share = summary["share"]
    lines = [f"| strategy | {' | '.join(families)} |", "|---|" + "---|" * len(families)]
    for r in [*names[:1], STEPPED, HINDSIGHT, *names[1:]]:
        lines.append(f"| {r} | " + " | ".join(" / ".join(f"{v:.3f}" for v in share[r][f]) for f in families) + " |")
    return lines


def section(results: list[dict], names: list[str], families: list[str], seeds: list[int], command: str,
            load: tuple[float, float], wall: float, label: str) -> str:
    lines, summary = tables(results, names, families)
    raises = {n: np.mean([r["raises"][n] for r in results if r["family"] == "reference"] or [0]) for n in names}
    seconds = {n: np.mean([r["seconds"][n] for r in results]) for n in names}
    out = [
        "## Dynamic pricing (PROTOCOL §4b: a suite of markets)",
        "",
        f"Command: `{command}` — {dt.date.today().isoformat()}, {platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}; load average {load[0]:.1f} at the start, {load[1]:.1f} at the end "
        f"(shared cores); wall time {wall / 60:.1f} min.",
        "",
        f"{label} seeds {', '.join(map(str, seeds))} for each of the {len(families)} families in `bench/markets.py` "
        "(100 products, 52 weeks; `seasonal` 40 weeks of a 52-week cycle). Every default setting was chosen on the "
        f"development seeds {', '.join(map(str, DEV_SEEDS))} (all families, 100 products per market) by the rule in "
        f"the `bench/pricing.py` docstring, written before this run; the test seeds {', '.join(map(str, TEST_SEEDS))} "
        "were scored once. Guardrails: "
        "floor 1.05 × cost, ceiling 2.5 × list, at most 10 % a week, whole cents (`GuardrailPolicy`). "
        "Share = Σ profit / Σ clairvoyant profit of a market, mean over seeds; worst week = the lowest weekly share "
        f"of any seed from week {WORST_FROM} on.",
        "",
        *verdict(summary, names, families, results),
        "",
        f"How the default's settings were chosen (development seeds {', '.join(map(str, DEV_SEEDS))}, every family, "
        "100 products per market; a seed moves a family's share by about ±0.01, so these are a screening, not a "
        "proof):",
        "",
        DEV_SCREENING,
        "**Profit as a share of the clairvoyant's**, family × strategy:",
        "",
        *lines,
        "",
        "Per seed (" + ", ".join(map(str, seeds)) + "):",
        "",
        *per_seed_lines(summary, names, families, seeds),
        "",
        "- Clairvoyant: the expected demand known; separable families: dynamic programming over a 1 % ladder "
        "(shadow price for stock), without the step limit; `logit`: the joint static optimum from week 0; "
        "`reference`: the best of a jump and 2/5/10 %-a-week walks to the long-run optimum (open-loop plans, "
        "so a learning policy can beat them on single products).",
        "- Share of product-weeks with a price rise on `reference`: "
        + ", ".join(f"{n.replace('*', '')} {raises[n]:.1%}" for n in names) + ".",
        "- Seconds per 52-week run of 100 products: " + ", ".join(f"{n.replace('*', '')} {seconds[n]:.1f}"
                                                                  for n in names) + ".",
        "",
    ]
    return "\n".join(out) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", default=None, help="market seeds (comma-separated; default the test seeds)")
    parser.add_argument("--dev", action="store_true", help="the development seeds; prints only")
    parser.add_argument("--quick", action="store_true", help="2 families, 1 dev seed, 40 products; prints only")
    parser.add_argument("--families", default=",".join(FAMILIES), help="families (comma-separated)")
    parser.add_argument("--products", type=int, default=100, help="products per market")
    parser.add_argument("--strategies", default=None, help="row names (comma-separated prefixes) to run")
    parser.add_argument("--set", default="", help="development only: key=value,... for the default's hyperparameters")
    parser.add_argument("--processes", type=int, default=2, help="worker processes (shared machines: at most 2)")
    parser.add_argument("--no-write", action="store_true", help="print only; leave bench/RESULTS.md alone")
    parser.add_argument("--keep", default=None,
                        help="folder: each market's result is saved there as it finishes, and markets saved "
                             "there already are read instead of run again (resume an interrupted run)")
    args = parser.parse_args()
    families = [f for f in args.families.split(",") if f]
    if args.set:
        overrides = {k: (None if v == "None" else eval(v)) for k, v in (kv.split("=") for kv in args.set.split(","))}  # noqa: S307
        STRATEGIES["**default**"] = (lambda s: RobustPricingStrategy(random_state=s, **overrides), "default")
    seeds = list(DEV_SEEDS if args.dev else TEST_SEEDS)
    if args.seeds:
        seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    names = list(STRATEGIES)
    if args.strategies:
        wanted = [w.strip() for w in args.strategies.split(",")]
        names = [n for n in names if n == names[0] or any(n.replace("*", "").startswith(w) for w in wanted)]
    if args.quick:
        families, seeds, args.products = families[:2], [DEV_SEEDS[0]], 40
    write = not (args.no_write or args.quick or args.dev or args.seeds)
    load_start = os.getloadavg()[0]
    t0 = time.perf_counter()
    jobs = [(f, s, args.products, names) for s in seeds for f in families]  # seed by seed: all families first
    keep = Path(args.keep) if args.keep else None
    done: dict[tuple[str, int], dict] = {}
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        for job in jobs:
            path = keep / f"{job[0]}-{job[1]}-{job[2]}.pkl"
            if path.exists():
                done[job[:2]] = pickle.loads(path.read_bytes())
    todo = [job for job in jobs if job[:2] not in done]

    def record(res: dict) -> None:
        done[(res["family"], res["seed"])] = res
        if keep is not None:
            (keep / f"{res['family']}-{res['seed']}-{args.products}.pkl").write_bytes(pickle.dumps(res))

    if args.processes > 1 and len(todo) > 1:
        with mp.get_context("fork").Pool(min(args.processes, 2)) as pool:
            for res in pool.imap_unordered(run_market, todo, chunksize=1):
                record(res)
    else:
        for job in todo:
            record(run_market(job))
    results = [done[job[:2]] for job in jobs]
    command = ("python bench/pricing.py " + " ".join(sys.argv[1:])).strip()
    label = "Development" if args.dev else ("Test" if not args.seeds else "Chosen")
    text = section(results, names, families, seeds, command, (load_start, os.getloadavg()[0]),
                   time.perf_counter() - t0, label)
    publish("pricing", text, write=write)


if __name__ == "__main__":
    main()
