"""Wall and CPU time of the nightly jobs on a quiet machine and next to a competing CPU-bound load.

    DATABASE_URL=... python bench/under_load.py [--jobs plan_restock train_recommenders ...] [--hogs 2]
                                               [--modes quiet loaded]

Runs each job as ``manage.py JOB --no-progress`` (the configured database, ``SHOPSENSE_THREADS`` from the
environment) once per mode: ``quiet`` (nothing of ours beside it) and ``loaded`` (``--hogs`` processes of
``while True: pass`` started first and stopped after). Prints one Markdown row per run: wall seconds,
CPU seconds (user + system of the job and its children), the load average before and after, and the
loaded/quiet ratio of the wall time (bench/RESULTS.md, "Up in minutes"). Other work on the machine changes
the figures: the load average is printed next to each of them.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
JOB_ARGS = {
    "build_profiles": ["build_profiles", "--no-progress"],
    "train_recommenders": ["train_recommenders", "--no-progress"],
    "suggest_prices": ["suggest_prices", "--no-progress"],
    "plan_restock": ["plan_restock", "--no-progress"],
}


def run_job(job: str) -> tuple[float, float, int]:
    """(wall s, user+sys CPU s, exit status) of one run of ``job``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "manage.py", *JOB_ARGS[job]], cwd=ROOT, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if done.returncode:
        print(done.stderr[-2000:], file=sys.stderr)
    return wall, cpu, done.returncode


def load() -> str:
    return f"{os.getloadavg()[0]:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", nargs="+", default=["plan_restock"], choices=sorted(JOB_ARGS))
    parser.add_argument("--hogs", type=int, default=2, help="competing CPU-bound processes in the loaded mode")
    parser.add_argument("--modes", nargs="+", default=["quiet", "loaded"], choices=["quiet", "loaded"])
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop_project.settings")
    print(f"SHOPSENSE_THREADS={os.environ.get('SHOPSENSE_THREADS', '') or 'default'}, "
          f"{os.cpu_count()} CPUs, hogs={args.hogs}", flush=True)
    print("| job | mode | wall s | CPU s (user+sys) | load avg before → after | loaded / quiet wall |", flush=True)
    print("|---|---|---|---|---|---|", flush=True)
    quiet: dict[str, float] = {}
    for job in args.jobs:
        for mode in args.modes:
            hogs = []
            if mode == "loaded":
                hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(args.hogs)]
                time.sleep(1)
            try:
                start_load = load()
                wall, cpu, status = run_job(job)
                end_load = load()
            finally:
                for hog in hogs:
                    hog.kill()
                    hog.wait()
            if mode == "quiet":
                quiet[job] = wall
            ratio = f"{wall / quiet[job]:.2f}×" if mode == "loaded" and job in quiet else ""
            failed = "" if status == 0 else f" (exit {status})"
            print(f"| {job}{failed} | {mode} | {wall:.1f} | {cpu:.1f} | {start_load} → {end_load} | {ratio} |",
                  flush=True)


if __name__ == "__main__":
    main()
