"""Fit time of the served forecaster's models with 1 and 2 threads per library, on the demo database's history.

    DATABASE_URL=... python bench/forecaster_threads.py [--models GBM MLP] [--threads 1 2]

Reads the weekly history ``plan_restock`` would model (Django, the configured database), then times, in a fresh
process per (model, threads), fit + predict of each candidate member from ``inventory.ml.served`` with
OpenMP, BLAS and PyTorch capped at that many threads. Prints wall and CPU seconds (bench/RESULTS.md,
"plan_restock"). The machine's other load changes the figures: compare rows of one run.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def dump_history(path: Path) -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop_project.settings")
    import django

    django.setup()
    import pandas as pd

    from inventory import forecasting
    from inventory.ml import demand

    origin = forecasting.week_origin(forecasting.planning_date())
    panel = forecasting.demand_panel(origin)
    panel["ds"] = pd.to_datetime(panel["ds"])
    ids = set(demand.select_series(panel, pd.Timestamp(origin), min_weeks=forecasting.MIN_SELLING_WEEKS))
    panel[panel["unique_id"].isin(ids)].reset_index(drop=True).to_pickle(path)
    print(f"history before {origin}: {len(ids):,} series", flush=True)


def time_one(path: Path, name: str, threads: int) -> None:
    sys.path.insert(0, str(ROOT))
    import warnings

    import pandas as pd
    import torch
    from threadpoolctl import threadpool_limits

    from inventory.ml import served

    torch.set_num_threads(threads)
    history = pd.read_pickle(path)
    model = served.served_candidates(4, random_state=0)[name]
    wall, cpu = time.perf_counter(), time.process_time()
    with threadpool_limits(threads), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(history).predict(4, (0.5, 0.9))
    print(f"| {name} | {threads} | {time.perf_counter() - wall:.1f} | {time.process_time() - cpu:.1f} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["GBM", "MLP"])
    parser.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--one", nargs=3, metavar=("HISTORY", "MODEL", "THREADS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        time_one(Path(args.one[0]), args.one[1], int(args.one[2]))
        return
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "history.pkl"
        dump_history(path)
        print(f"load average {os.getloadavg()[0]:.1f}\n\n| model | threads | wall s | CPU s |\n|---|---|---|---|")
        for name in args.models:
            for threads in args.threads:
                subprocess.run([sys.executable, __file__, "--one", str(path), name, str(threads)], check=True)
        print(f"\nload average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
