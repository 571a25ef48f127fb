"""Precomputing every customer's "for you" list: in the training process vs fanned out to 1 and 2 ml workers.

Issue #18 (past one machine): with ``RECOMMENDATIONS["LIST_SHARDS"]`` = N the lists are written by N tasks
``personalization.precompute_lists_shard`` on the ``ml`` queue, shared by however many ``ml`` workers run.
This bench times that step alone on a seeded synthetic shop (``bench/synth.py``, preset
``retail-small-baskets`` scaled to ``--products`` x ``--customers`` x ``--lines``, seed ``--seed``):

1. the shop's purchases are fitted once with the ``simple`` model (repeat purchases + item kNN; the hybrid's
   training is not what is measured here) and stored as a version's artifact, as training stores it;
2. ``in-process``: the lists written the way ``LIST_SHARDS`` = 1 does, from the model in memory;
3. ``W worker(s)``: W real ``celery worker -Q ml --pool=solo`` processes (started and ready before the clock),
   then the chord of ``--shards`` shard tasks and its last step, exactly as training queues it; the time is
   from queueing to the version being active. Each worker loads the artifact from storage itself.

Every configuration writes the same rows (checked: a digest of every list). Peak RSS of each worker (VmHWM).
Its own database (``list_shards_bench``) and Redis db (``--redis``); results go to the ``list-shards`` section
of bench/RESULTS.md.

    nice -n 19 python bench/list_shards.py                         # 10k x 50k x 500k, 1 and 2 workers
    nice -n 19 python bench/list_shards.py --customers 20000 --no-write
"""
from __future__ import annotations

import argparse
import hashlib
import os
import platform
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from results_md import publish  # noqa: E402

DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/list_shards_bench"
DEFAULT_REDIS = "redis://127.0.0.1:6379/11"
LOAD_AT_START = os.getloadavg()


def setup_django(database_url: str, redis_url: str, media: Path) -> None:
    os.environ.update({"DJANGO_SETTINGS_MODULE": "shop_project.settings", "DATABASE_URL": database_url,
                       "REDIS_URL": redis_url, "LOG_LEVEL": "WARNING", "SHOPSENSE_MEDIA_ROOT": str(media)})
    sys.path.insert(0, str(ROOT))
    from capture import create_database  # the other benches' helper: CREATE DATABASE if missing

    create_database(database_url)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def build_version(args: argparse.Namespace) -> tuple[Any, Any, dict[str, Any]]:
    """The synthetic shop fitted with ``simple``, stored as a recommender version (status *training*)."""
    from django.contrib.auth import get_user_model

    from bench.synth import PRESETS, generate, to_interactions
    from personalization.models import ModelVersion, RecommendationList
    from personalization.ops import registry
    from personalization.recommending import precompute
    from personalization.recommending.blend import RepeatThenNeighbours
    from personalization.recommending.config import KIND

    spec = PRESETS["retail-small-baskets"].scaled(n_products=args.products, n_customers=args.customers,
                                                  n_lines=args.lines)
    started = time.perf_counter()
    data = to_interactions(generate(spec, seed=args.seed))
    generate_s = time.perf_counter() - started
    User = get_user_model()
    RecommendationList.objects.all().delete()
    ModelVersion.objects.filter(kind=KIND).delete()
    User.objects.filter(username__startswith="bench-").delete()
    User.objects.bulk_create([User(username=f"bench-{n}", password="!") for n in range(data.n_users)],
                             batch_size=5000)
    user_pks = np.array(User.objects.filter(username__startswith="bench-").order_by("pk")
                        .values_list("pk", flat=True), dtype=np.int64)
    product_pks = np.arange(1, data.n_items + 1, dtype=np.int64)
    started = time.perf_counter()
    model = RepeatThenNeighbours().fit(data)
    fit_s = time.perf_counter() - started
    arrays = {"product_pks": product_pks, "user_pks": user_pks, **precompute.seen_arrays(data.seen())}
    arrays.update({f"model/{key}": value for key, value in model.to_arrays().items()})
    version = registry.begin(KIND, {"model": "simple"})
    registry.store_artifact(version, arrays, metadata={"model": "simple", "list_length": args.length})
    inputs = precompute.ListInputs(model, data.seen(), user_pks, product_pks, args.length)
    facts = {"customers": int(data.n_users), "products": int(data.n_items), "purchases": int(len(data.user_ids)),
             "generate_s": generate_s, "fit_s": fit_s}
    return version, inputs, facts


def copy_version(version: Any) -> Any:
    """A new *training* version naming the same artifact (each run writes its lists to a version of its own)."""
    from personalization.models import ModelVersion

    return ModelVersion.objects.create(kind=version.kind, params=version.params, metadata=version.metadata,
                                       artifact=version.artifact, artifact_sha256=version.artifact_sha256)


def digest(version: Any) -> str:
    from personalization.models import RecommendationList

    rows = RecommendationList.objects.filter(model_version=version).order_by("user_id").values_list(
        "user_id", "items", "scores", "sources")
    return hashlib.sha256(repr(list(rows)).encode()).hexdigest()[:16]


def in_process(version: Any, inputs: Any) -> dict[str, Any]:
    from django.db import transaction

    from personalization.recommending import precompute

    run = copy_version(version)
    started = time.perf_counter()
    with transaction.atomic():
        lists = precompute.write_user_lists(inputs, run)
    return {"config": "in-process (LIST_SHARDS 1)", "workers": 0, "shards": 1,
            "seconds": time.perf_counter() - started, "lists": lists, "digest": digest(run), "rss_mib": []}


def worker_env(args: argparse.Namespace, media: Path) -> dict[str, str]:
    return {**os.environ, "DJANGO_SETTINGS_MODULE": "shop_project.settings", "DATABASE_URL": args.db,
            "REDIS_URL": args.redis, "SHOPSENSE_MEDIA_ROOT": str(media), "PYTHONUNBUFFERED": "1",
            "LOG_LEVEL": "INFO"}


def start_workers(count: int, env: dict[str, str], logs: Path) -> list[subprocess.Popen]:
    workers = []
    for n in range(count):
        log = logs / f"worker-{n + 1}-{uuid.uuid4().hex[:6]}.log"
        command = [sys.executable, "-m", "celery", "-A", "shop_project", "worker", "-Q", "ml", "--pool=solo",
                   "--concurrency=1", "--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "info",
                   "-n", f"bench-{n}-{uuid.uuid4().hex[:6]}@%h"]
        with log.open("wb") as out:
            process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        process.log = log  # type: ignore[attr-defined]
        workers.append(process)
    deadline = time.monotonic() + 180
    while not all("ready." in w.log.read_text(errors="replace") for w in workers):  # type: ignore[attr-defined]
        if time.monotonic() > deadline or any(w.poll() is not None for w in workers):
            raise SystemExit("The ml workers did not start: " + " ".join(str(w.log) for w in workers))  # type: ignore[attr-defined]
        time.sleep(0.2)
    return workers


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def fanned_out(version: Any, workers: int, shards: int, args: argparse.Namespace, media: Path,
               logs: Path) -> dict[str, Any]:
    from personalization.models import ModelVersion
    from personalization.ops import locks
    from personalization.recommending import training

    processes = start_workers(workers, worker_env(args, media), logs)
    try:
        run = copy_version(version)
        owner = uuid.uuid4().hex
        locks.acquire(training.LOCK_NAME, owner, 3600)
        started = time.perf_counter()
        training._fan_out(run, shards, owner=owner, activate=True, metrics={}, minimums=[],
                          started_at=time.time(), popular=0, name="simple", reason="bench")
        while True:
            status = ModelVersion.objects.values_list("status", flat=True).get(pk=run.pk)
            if status in {ModelVersion.Status.ACTIVE, ModelVersion.Status.READY, ModelVersion.Status.FAILED}:
                break
            time.sleep(0.05)
        seconds = time.perf_counter() - started
        run.refresh_from_db()
        if status == ModelVersion.Status.FAILED:
            raise SystemExit(f"The sharded run failed: {run.error}")
        rss = [round(peak_rss_mib(p.pid), 0) for p in processes]
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=30)
    from personalization.models import RecommendationList

    lists = RecommendationList.objects.filter(model_version=run).count()
    return {"config": f"{workers} ml worker{'s' if workers > 1 else ''}, {shards} shards", "workers": workers,
            "shards": shards, "seconds": seconds, "lists": lists, "digest": digest(run), "rss_mib": rss}


def report(facts: dict[str, Any], rows: list[dict[str, Any]], args: argparse.Namespace, command: str) -> str:
    load_end = os.getloadavg()
    lines = [
        f"Command: `{command}`. {platform.node()}, {os.cpu_count()} CPUs (shared with other jobs); load average "
        f"{LOAD_AT_START[0]:.1f} at the start, {load_end[0]:.1f} at the end.",
        "",
        f"Shop: `bench/synth.py` preset `retail-small-baskets` scaled to {args.products:,} products, "
        f"{args.customers:,} customers, {args.lines:,} lines, seed {args.seed}: {facts['customers']:,} customers "
        f"with purchases, {facts['purchases']:,} purchases (generated in {facts['generate_s']:.1f} s); the `simple` "
        f"model fitted in {facts['fit_s']:.1f} s. Lists of {args.length} items per customer.",
        "",
        "| round | configuration | wall s (queue to active) | vs 1 worker, same round | lists | rows digest "
        "| peak RSS per worker MiB |",
        "|---:|---|---:|---:|---:|---|---|",
    ]
    ratios: dict[str, list[float]] = {}
    for r in rows:
        base = next((b["seconds"] for b in rows if b["round"] == r["round"] and b["workers"] == 1), None)
        ratio = r["seconds"] / base if base else None
        if ratio is not None and r["workers"] != 1:
            ratios.setdefault(r["config"], []).append(ratio)
        shown = f"{ratio:.2f}x" if ratio is not None else ""
        rss = ", ".join(f"{v:,.0f}" for v in r["rss_mib"]) or "(the trainer's process)"
        lines.append(f"| {r['round']} | {r['config']} | {r['seconds']:.1f} | {shown} | {r['lists']:,} "
                     f"| `{r['digest']}` | {rss} |")
    same = len({r["digest"] for r in rows}) == 1
    lines += [""] + [f"Median against one worker: {config} {statistics.median(values):.2f}x." for config, values
                     in ratios.items()]
    lines += ["", f"Rows identical in every configuration and round: **{'yes' if same else 'NO'}**."]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", default=os.environ.get("BENCH_LIST_SHARDS_DATABASE_URL", DEFAULT_DB))
    parser.add_argument("--redis", default=os.environ.get("BENCH_LIST_SHARDS_REDIS_URL", DEFAULT_REDIS))
    parser.add_argument("--products", type=int, default=10_000)
    parser.add_argument("--customers", type=int, default=50_000)
    parser.add_argument("--lines", type=int, default=500_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--length", type=int, default=50)
    parser.add_argument("--workers", type=lambda s: [int(x) for x in s.split(",")], default=[1, 2])
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=2, help="each configuration this often (order alternated)")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    command = "python bench/list_shards.py " + " ".join(sys.argv[1:])
    media = ROOT / "var" / "bench-list-shards"
    logs = media / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    setup_django(args.db, args.redis, media)
    version, inputs, facts = build_version(args)
    print(f"Shop ready: {facts}", flush=True)
    rows = []
    for round_no in range(1, args.rounds + 1):
        rows.append({**in_process(version, inputs), "round": round_no})
        print(rows[-1], flush=True)
        order = args.workers if round_no % 2 else list(reversed(args.workers))  # alternate against drift
        for workers in order:
            rows.append({**fanned_out(version, workers, args.shards, args, media, logs), "round": round_no})
            print(rows[-1], flush=True)
    publish("list-shards", report(facts, rows, args, command.strip()), write=not args.no_write)


if __name__ == "__main__":
    main()
