"""The hybrid with and without its torch sequence source, and the sequence model alone (issue #17, item 4).

    python bench/sequence.py                 # validation, then the test split once; writes bench/RESULTS.md
    python bench/sequence.py --no-write      # print only
    python bench/sequence.py --users 0.5     # a seeded half of the customers (their whole history), for speed
    python bench/sequence.py --render        # write the section again from bench/out/sequence_figures.json

PROTOCOL §1 on the two-year data (``data/online_retail_ii.csv.gz``): validation split train < 2011-10-10,
validate 2011-10-10 .. 2011-11-09; test split train < 2011-11-09, test 2011-11-09 .. 2011-12-09. The hybrid's
other sources take the settings ``bench/recommenders.py`` chose on the validation split (its run recorded in
RESULTS.md, section ``recs``; copied below as ``TUNED_SOURCES``), its ranker ``HYBRID_PARAMS``. The sequence
source takes ``OPTIONAL_SOURCES["sequence"]`` (personalization/ml/hybrid.py) as it is, with ``--seq-*`` overrides.

Choice rule, written down before the test split is scored:
- on the validation split, fit the hybrid without and with the sequence source; serve it *with* the source
  only if the mean over the two tasks of NDCG@20 (with / without) is above 1.0, else *without*;
- then fit both variants and the sequence model alone once on the test split's training data and score them
  (the contribution with and without); no setting is changed after the test split is scored.
"""
from __future__ import annotations

import argparse
import copy
import datetime as dt
import json
import os
import shlex
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from results_md import publish  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from personalization.ml import evaluation as ev  # noqa: E402
from personalization.ml.hybrid import OPTIONAL_SOURCES, HybridRecommender, fit_hybrids  # noqa: E402
from personalization.ml.sequence import SequenceRecommender  # noqa: E402

VALIDATION_CUTOFF = "2011-10-10"
TEST_CUTOFF = "2011-11-09"
OUT = ROOT / "bench" / "out"
HYBRID_PARAMS = {"label_windows": 2, "negative_rate": 0.5, "max_iter": 200, "learning_rate": 0.05,
                 "max_leaf_nodes": 31, "min_samples_leaf": 100}
# The served sources of bench/recommenders.py's two-year run (RESULTS.md, "Served sources"), chosen there on
# the validation split.
TUNED_SOURCES: dict[str, dict[str, Any]] = {
    "repeat": {"model": "RepeatPurchase", "params": {"half_life_days": 365.0, "popularity_weight": 0.3},
               "candidates": 100},
    "ease": {"model": "EASE", "params": {"lam": 100.0, "half_life_days": 60.0, "weighting": "sum"}, "candidates": 100},
    "ease_latest": {"model": "EASE", "params": {"lam": 300.0, "half_life_days": 60.0, "weighting": "latest"},
                    "candidates": 50},
    "knn": {"model": "ItemKNN", "params": {"n_neighbors": None, "shrink": 20.0, "half_life_days": 60.0},
            "candidates": 30},
    "copurchase": {"model": "CoPurchase", "params": {"half_life_days": 14.0}, "candidates": 30},
    "content": {"model": "ContentBased", "params": {"half_life_days": 30.0}, "candidates": 20},
    "pop": {"model": "TopPop", "params": {"window_days": 14.0}, "candidates": 20},
    "tifu": {"model": "TIFUKNN", "params": {"n_groups": 7, "within_decay": 0.9, "group_decay": 0.8,
                                            "n_neighbors": 100, "alpha": 1.0}, "candidates": 50},
    "neighbours": {"model": "TIFUKNN", "params": {"n_groups": 7, "within_decay": 0.9, "group_decay": 0.8,
                                                  "n_neighbors": 100, "alpha": 0.0}, "candidates": 50},
}


def sequence_spec(args: argparse.Namespace) -> dict[str, Any]:
    spec = copy.deepcopy(OPTIONAL_SOURCES["sequence"])
    overrides = {"epochs": args.seq_epochs, "max_seconds": args.seq_seconds}
    spec["params"].update({k: v for k, v in overrides.items() if v is not None})
    return spec


def fit_variant(data: Any, sources: dict[str, dict[str, Any]], threads: int
                ) -> tuple[list[HybridRecommender], float, float]:
    start, cpu = time.perf_counter(), time.process_time()
    hybrids = fit_hybrids(data, [HybridRecommender(task=task, sources=sources, num_threads=threads, **HYBRID_PARAMS)
                                 for task in ev.TASKS])
    return hybrids, time.perf_counter() - start, time.process_time() - cpu


def subsample(transactions: Any, share: float, seed: int = 0) -> Any:
    users = np.sort(transactions["user"].unique())
    keep = np.random.default_rng(seed).choice(users, size=int(round(share * users.size)), replace=False)
    return transactions[transactions["user"].isin(keep)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(ROOT / "data" / "online_retail_ii.csv.gz"))
    parser.add_argument("--no-write", action="store_true", help="do not update bench/RESULTS.md")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads for BLAS, the ranker and torch")
    parser.add_argument("--users", type=float, default=1.0, help="share of the customers kept (seeded)")
    parser.add_argument("--seq-epochs", type=int, default=None, help="override the source's epochs")
    parser.add_argument("--seq-seconds", type=float, default=None, help="override the source's max_seconds")
    parser.add_argument("--render", action="store_true", help="only render the last run's saved figures")
    args = parser.parse_args()
    saved = OUT / "sequence_figures.json"
    if args.render:
        figures = json.loads(saved.read_text())
        figures.setdefault("finished", dt.datetime.fromtimestamp(saved.stat().st_mtime, dt.UTC).isoformat())
        publish("sequence", render(args, figures), write=not args.no_write)
        return
    threadpool_limits(args.threads)
    import torch

    torch.set_num_threads(args.threads)
    OUT.mkdir(parents=True, exist_ok=True)
    t0, load_start = time.perf_counter(), os.getloadavg()

    def log(message: str) -> None:
        print(f"[{time.perf_counter() - t0:6.0f}s] {message}", flush=True)

    transactions = ev.clean_online_retail(ev.read_online_retail(args.data))
    if args.users < 1.0:
        transactions = subsample(transactions, args.users)
    spec = sequence_spec(args)
    variants = {"without": TUNED_SOURCES, "with": {**TUNED_SOURCES, "sequence": spec}}
    figures: dict[str, Any] = {"sequence_spec": spec, "users_share": args.users}
    for split_name, cutoff in (("validation", VALIDATION_CUTOFF), ("test", TEST_CUTOFF)):
        split = ev.make_split(transactions, cutoff)
        log(f"{split_name}: cutoff {cutoff}, users all {split.eval_users['all'].size:,}, "
            f"new {split.eval_users['new'].size:,}, catalogue {split.n_items:,}")
        part: dict[str, Any] = {"users": {t: int(split.eval_users[t].size) for t in ev.TASKS}}
        start, cpu = time.perf_counter(), time.process_time()
        alone = SequenceRecommender(**spec["params"]).fit(split.train)
        part["sequence alone"] = {"metrics": {t: ev.evaluate(alone, split, t) for t in ev.TASKS},
                                  "seconds": [time.perf_counter() - start, time.process_time() - cpu],
                                  "epochs": int(alone.epochs_run_), "vocabulary": int(alone.vocab_.size)}
        log(f"  sequence alone: {summary(part['sequence alone'])}, {alone.epochs_run_} epochs")
        for label, sources in variants.items():
            hybrids, wall, cpu_s = fit_variant(split.train, sources, args.threads)
            part[f"hybrid {label}"] = {"metrics": {h.task: ev.evaluate(h, split, h.task) for h in hybrids},
                                       "seconds": [wall, cpu_s]}
            if label == "with":
                gains = hybrids[0].feature_importances()
                total = sum(gains.values()) or 1.0
                part["sequence gain share"] = sum(v for k, v in gains.items() if k.startswith("sequence_")) / total
            log(f"  hybrid {label} the sequence source: {summary(part[f'hybrid {label}'])}")
        figures[split_name] = part
        if split_name == "validation":
            ratio = float(np.mean([part["hybrid with"]["metrics"][t]["ndcg@20"]
                                   / part["hybrid without"]["metrics"][t]["ndcg@20"] for t in ev.TASKS]))
            figures["validation_ratio"] = ratio
            figures["served"] = "with" if ratio > 1.0 else "without"
            log(f"  rule: mean NDCG ratio with/without {ratio:.4f} -> served {figures['served']} the source")
    figures["total_s"] = time.perf_counter() - t0
    figures["loads"] = [load_start, os.getloadavg()]
    figures["command"] = "python bench/sequence.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    figures["threads"] = args.threads
    figures["finished"] = dt.datetime.now(dt.UTC).isoformat()
    saved.write_text(json.dumps(figures, indent=1))
    publish("sequence", render(args, figures), write=not args.no_write)


def summary(entry: dict[str, Any]) -> str:
    return ", ".join(f"{t} {m['ndcg@20']:.4f}" for t, m in entry["metrics"].items()) + \
        f" ({entry['seconds'][0]:.0f} s wall, {entry['seconds'][1]:.0f} s CPU)"


def render(args: argparse.Namespace, figures: dict[str, Any]) -> str:
    command = figures.get("command", "python bench/sequence.py")
    threads = figures.get("threads", args.threads)
    finished = dt.datetime.fromisoformat(figures["finished"])
    (l1, l5, _), (e1, e5, _) = figures["loads"]
    out = [
        "## The torch sequence source in the hybrid (issue #17 item 4)",
        "",
        f"`{command.strip()}` — {finished:%Y-%m-%d %H:%M} UTC (end), {os.cpu_count()} CPU cores shared with"
        f" other jobs (load average 1/5 min {l1:.1f} / {l5:.1f} at the start, {e1:.1f} / {e5:.1f} at the end),"
        f" {threads} threads, CPU only (no CUDA lent). Customers kept: {figures['users_share']:.0%}. Whole run"
        f" {figures['total_s'] / 60:.1f} min.",
        "",
        "Sequence source: " + json.dumps(figures["sequence_spec"]["params"])
        + f", ×{figures['sequence_spec']['candidates']} candidates. Other sources: bench/recommenders.py's"
        " validation-tuned ones; ranker "
        + json.dumps(HYBRID_PARAMS) + ".",
        "",
        "| split | model | all NDCG@20 | all R@20 | all HR@10 | new NDCG@20 | new R@20 | new HR@10 "
        "| fit s wall / CPU |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for split_name in ("validation", "test"):
        part = figures[split_name]
        for label in ("sequence alone", "hybrid without", "hybrid with"):
            entry = part[label]
            cells = [split_name, {"hybrid without": "hybrid without the source",
                                  "hybrid with": "hybrid with the source"}.get(label, label)]
            for task in ev.TASKS:
                m = entry["metrics"][task]
                cells += [f"{m['ndcg@20']:.4f}", f"{m['recall@20']:.4f}", f"{m['hr@10']:.4f}"]
            cells.append(f"{entry['seconds'][0]:.0f} / {entry['seconds'][1]:.0f}")
            out.append("| " + " | ".join(cells) + " |")
    test = figures["test"]
    out += [
        "",
        f"Validation users: all {figures['validation']['users']['all']:,}, "
        f"new {figures['validation']['users']['new']:,};"
        f" test users: all {test['users']['all']:,}, new {test['users']['new']:,}. The hybrid rows fit both tasks'"
        " rankers in one pass (the candidate models, the sequence model included, three times: two label windows and"
        " serving). Share of the task-all ranker's split gain on the sequence features: validation "
        f"{figures['validation']['sequence gain share']:.3f}, test {test['sequence gain share']:.3f}.",
        "",
        f"Rule (docstring, before the test split): mean over the tasks of validation NDCG@20 with / without = "
        f"{figures['validation_ratio']:.4f} → served **{figures['served']}** the sequence source. On the test split,"
        " with / without: " + ", ".join(
            f"{t} {test['hybrid with']['metrics'][t]['ndcg@20'] / test['hybrid without']['metrics'][t]['ndcg@20']:.4f}"
            for t in ev.TASKS) + ".",
        "",
        "Data: UCI Online Retail II (Chen, 2012), CC BY 4.0.",
    ]
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    main()
