"""The served forecaster's cost against its accuracy: variants of the global models' settings, fitted fresh.

    python bench/forecast_cost.py --origins 2010-11-08,2011-06-06 \
        --variant base='{}' --variant thin='{"GBM": {"zero_keep": 0.5}, "MLP": {"zero_keep": 0.5}}'

For every (origin, variant) a fresh process fits the served selector (``inventory.ml.served``, all its fits in
that process, one thread: ``n_jobs=1``) on the two-year data's history before the origin (the series of
``bench/inventory.py``), forecasts 4 weeks and scores them as PROTOCOL §2 (served point WAPE and MASE, q90
coverage, the mean's WAPE and bias). It prints the fit + predict CPU seconds of that process next to the
metrics, one Markdown row each, and with ``--json`` appends the rows to a file. ``--jobs 2`` runs two of the
processes at a time (on cores of their own the CPU figures stay comparable; the wall time does not).

A variant is a JSON object ``{"GBM": {...}, "MLP": {...}}`` of settings replacing ``GBM_PARAMS`` /
``MLP_PARAMS`` (bench/RESULTS.md, "plan_restock", records the rule each comparison was judged by). No cache:
every variant fits every model.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _bench_inventory():  # noqa: ANN202 - the bench module (its name clashes with the inventory app)
    spec = importlib.util.spec_from_file_location("bench_inventory", ROOT / "bench" / "inventory.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_one(origin: str, name: str, variant: dict) -> dict:
    sys.path.insert(0, str(ROOT))
    warnings.filterwarnings("ignore")
    from threadpoolctl import threadpool_limits

    from inventory.ml import demand as dm
    from inventory.ml.metrics import evaluate_forecast
    from inventory.ml.served import HORIZON, served_selector

    _, weekly = _bench_inventory().load_data(fresh=False)
    ids = dm.select_series(weekly, origin)
    history, actual = dm.split_at_origin(weekly, origin, HORIZON, ids)
    import torch

    torch.set_num_threads(1)
    with threadpool_limits(1):
        selector = served_selector(HORIZON, n_jobs=1, gbm_overrides=variant.get("GBM"),
                                   mlp_overrides=variant.get("MLP"))
        wall, cpu = time.perf_counter(), time.process_time()
        selector.fit(history)
        fc = selector.predict(HORIZON)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    point = evaluate_forecast(fc, actual, history, point="point")
    mean = evaluate_forecast(fc, actual, history, point="mean")
    return {"origin": origin, "variant": name, "settings": variant, "series": len(ids), "cpu_s": round(cpu, 1),
            "wall_s": round(wall, 1), "wape": point["wape"], "mase": point["mase"],
            "coverage_q90": point["coverage_q90"], "mean_wape": mean["wape"], "mean_bias": mean["bias"]}


def row(r: dict) -> str:
    return (f"| {r['origin']} | {r['variant']} | {r['series']:,} | {r['cpu_s']:.1f} | {r['wape']:.4f} | "
            f"{r['mase']:.4f} | {r['coverage_q90']:.3f} | {r['mean_wape']:.4f} / {r['mean_bias']:+.3f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--origins", type=lambda v: v.split(","), default=[])
    parser.add_argument("--variant", action="append", default=[], metavar="NAME=JSON")
    parser.add_argument("--jobs", type=int, default=1, help="processes at a time")
    parser.add_argument("--json", type=Path, help="append the rows (JSON lines) to this file")
    parser.add_argument("--one", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one[0], args.one[1], json.loads(args.one[2]))))
        return
    if not args.origins or not args.variant:
        parser.error("give --origins and at least one --variant")
    try:
        variants = [(name, json.loads(spec)) for name, spec in (v.split("=", 1) for v in args.variant)]
    except ValueError as exc:
        parser.error(f"bad --variant (NAME=JSON): {exc}")
    jobs = [(o, name, spec) for o in args.origins for name, spec in variants]

    def launch(job: tuple[str, str, dict]) -> dict:
        out = subprocess.run([sys.executable, __file__, "--one", job[0], job[1], json.dumps(job[2])],
                             capture_output=True, text=True)
        if out.returncode:
            raise SystemExit(f"{job[1]} at {job[0]} failed:\n{out.stderr[-3000:]}")
        return json.loads(out.stdout.strip().splitlines()[-1])

    print("| origin | variant | series | fit + predict CPU s | served WAPE | MASE | q90 coverage | mean WAPE / bias |")
    print("|---|---|---|---|---|---|---|---|", flush=True)
    with ThreadPoolExecutor(args.jobs) as pool:
        for r in pool.map(launch, jobs):
            print(row(r), flush=True)
            if args.json:
                with args.json.open("a") as fh:
                    fh.write(json.dumps(r) + "\n")


if __name__ == "__main__":
    main()
