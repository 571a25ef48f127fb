"""The nightly search of the hybrid's settings (personalization/recommending/tuning.py) on a slice of the real data.

The product's own search, unchanged, on the purchases from ``--start`` to the protocol's test cutoff
(2011-11-09): it validates on the last 30 days before the cutoff and picks the winner itself. Rule, fixed before
the test window is scored: ``served`` is the search's best trial; it and the hybrid's defaults are fitted on
the whole slice before the cutoff and scored once on the test window (PROTOCOL §1 metrics; the users are those
of the slice, so fewer than the protocol's 1,387). One process, ``--threads`` BLAS / ranker threads.

    python3 bench/recs_search.py [--start 2011-08-01] [--budget 300] [--trials 30] [--no-write]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django  # noqa: E402

django.setup()

import pandas as pd  # noqa: E402
from results_md import publish  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from personalization.ml import evaluation as ev  # noqa: E402
from personalization.recommending import training, tuning  # noqa: E402
from personalization.recommending.config import DEFAULTS  # noqa: E402

TEST_CUTOFF = pd.Timestamp("2011-11-09")


def clock() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def since(mark: tuple[float, float]) -> tuple[float, float]:
    return time.perf_counter() - mark[0], time.process_time() - mark[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(ROOT / "data" / "online_retail_ii.csv.gz"))
    parser.add_argument("--start", default="2011-08-01", help="first day of the slice")
    parser.add_argument("--budget", type=float, default=300.0, help="SEARCH TIME_BUDGET_S")
    parser.add_argument("--trials", type=int, default=30, help="SEARCH MAX_TRIALS")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    threadpool_limits(args.threads)
    os.environ["SHOPSENSE_THREADS"] = str(args.threads)
    load_start = os.getloadavg()
    began = clock()
    frame = ev.clean_online_retail(ev.read_online_retail(args.data))
    frame = frame[frame["timestamp"] >= pd.Timestamp(args.start)].reset_index(drop=True)
    train = frame[frame["timestamp"] < TEST_CUTOFF]
    items = ev.item_table(train)
    test = ev.make_split(frame, TEST_CUTOFF)
    settings = {**DEFAULTS, "SEARCH": {"ENABLED": True, "TIME_BUDGET_S": args.budget, "MAX_TRIALS": args.trials}}
    print(f"slice {args.start} .. {TEST_CUTOFF:%Y-%m-%d}: {len(train):,} purchases; test users all "
          f"{test.eval_users['all'].size}, new {test.eval_users['new'].size}", flush=True)

    mark = clock()
    result = tuning.search(train, items, TEST_CUTOFF, settings,
                           build=lambda chosen: training.make_model("hybrid", 0, chosen),
                           progress=lambda spent, stage: print(stage, flush=True))
    search_time = since(mark)
    rows = []
    for label, chosen in (("hybrid, defaults", None), ("hybrid, served (the search's choice)", result.settings)):
        mark = clock()
        model = training.make_model("hybrid", 0, chosen).fit(test.train)
        fit = since(mark)
        scores = {task: ev.evaluate(model, test, task) for task in ev.TASKS}
        rows.append((label, scores, fit))
        print(label, json.dumps({t: round(s["ndcg@20"], 4) for t, s in scores.items()}), f"{fit[0]:.0f} s",
              flush=True)
    load_end = os.getloadavg()
    summary = result.summary
    lines = [
        "## Self-tuning: the nightly search on a slice of the real data (bench/recs_search.py)",
        "",
        f"`python3 bench/recs_search.py --start {args.start} --budget {args.budget:g} --trials {args.trials} "
        f"--threads {args.threads}`: the product's search (tuning.py, Optuna TPE seed {summary['seed']}) on the "
        f"{len(train):,} clean purchases from {args.start} to 2011-11-09, validating on the last "
        f"{summary['validation_days']} days before the cutoff. Rule fixed before scoring the test window: serve "
        "the search's best trial. Scored once on 2011-11-09 .. 2011-12-09 (the slice's users: "
        f"{test.eval_users['all'].size} in task all, {test.eval_users['new'].size} in new).",
        "",
        f"Search: {summary['n_trials']} trials in {search_time[0]:.0f} s wall, {search_time[1]:.0f} s CPU "
        f"(budget {args.budget:g} s / {args.trials} trials); validation NDCG@20 defaults "
        f"{summary['default_value']:.4f}, best {summary['best_value']:.4f} (trial {summary['best_trial']}).",
        f"Changed from the defaults: `{json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in summary['changed'].items()})}`",  # noqa: E501
        "",
        "| configuration | task all NDCG@20 | all R@20 | task new NDCG@20 | new R@20 | fit s (wall / CPU) |",
        "|---|---|---|---|---|---|",
    ]
    for label, scores, fit in rows:
        lines.append(f"| {label} | {scores['all']['ndcg@20']:.4f} | {scores['all']['recall@20']:.4f} | "
                     f"{scores['new']['ndcg@20']:.4f} | {scores['new']['recall@20']:.4f} | "
                     f"{fit[0]:.0f} / {fit[1]:.0f} |")
    (_, base, _), (_, served, _) = rows
    lines += ["", "Served against the defaults on the test window: task all NDCG@20 "
              f"{served['all']['ndcg@20'] / base['all']['ndcg@20']:.3f}×, task new "
              f"{served['new']['ndcg@20'] / base['new']['ndcg@20']:.3f}× (the search's objective is task all "
              "only). Trials are numbered from 0 (trial 0 = the defaults)."]
    total = since(began)
    lines += ["", f"Total {total[0]:.0f} s wall, {total[1]:.0f} s CPU. Load average (1/5/15 min) at start "
              f"{load_start[0]:.1f}/{load_start[1]:.1f}/{load_start[2]:.1f}, at end "
              f"{load_end[0]:.1f}/{load_end[1]:.1f}/{load_end[2]:.1f}: the 2 cores were shared with other "
              "engineers' jobs, so wall times are inflated (CPU seconds are this process's)."]
    publish("recs_search", "\n".join(lines), write=not args.no_write)


if __name__ == "__main__":
    main()
