"""Load test of the whole stack (issue #7 §3): storefront, recommendation, price and event endpoints under
rising concurrency, with a real Celery worker flushing the event buffer, then an exactly-once check.

gunicorn (2 sync workers, DJANGO_DEBUG=0) serves the demo project on PostgreSQL (the real import with a trained
recommender: database ``load_bench``, a copy of bench/serving.py's ``importer_bench`` made with
``createdb load_bench && pg_dump importer_bench | psql load_bench``, so that no other bench touches its events)
and Redis (cache, event buffer, broker); a Celery worker on the
``default`` queue flushes the buffer whenever it passes 1,000 events. From SECOND processes on loopback,
each scenario runs for a fixed time at 1, 4, 16 and 64 concurrent clients:

- ``home``: ``GET /`` (storefront home page with best sellers) as a signed-in customer;
- ``product``: ``GET /product/<id>/`` signed in (price, stock and recommendation widgets, view capture);
- ``for_you``: ``GET /api/personalization/recommendations/?placement=for_you&limit=10`` with a DRF token;
- ``similar``: the same API, ``placement=similar&product=<id>``;
- ``prices``: ``GET /api/pricing/prices/?products=<5 ids>`` (public);
- ``events``: ``POST /api/personalization/events/``, batches of 20 events with an API key.

The GET scenarios are driven by ``wrk``; the events by a Python client process (threads, one connection each)
that records the ``client_event_id`` of every event the server accepted (202), so that after the run (the
worker drains the buffer) the check is exact: every accepted event stored once, nothing else stored.
The run's events are deleted afterwards (``--keep-events`` keeps them), leaving the bench database as it was.

    flock /tmp/shopsense-bench.lock python bench/load.py               # ~6 min; Redis db 10
    SHOPSENSE_MEDIA_ROOT=/path/to/media python bench/load.py             # where the active model's artifact is
    python bench/load.py --seconds 3 --levels 1,4 --no-write           # a quick look

Needs ``wrk`` (``apt-get install -y wrk``). Results go to the ``load`` section of bench/RESULTS.md.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from harness import ROOT, errors_of, free_port, run_threads, run_wrk, start_celery_worker, start_gunicorn, stop
from results_md import publish

DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/load_bench"
DEFAULT_REDIS = "redis://127.0.0.1:6379/10"
EVENTS_URL = "/api/personalization/events/"
BATCH = 20
LOAD_AT_START = os.getloadavg()

SCENARIOS = [
    ("home", "storefront home (signed in)"),
    ("product", "product page (signed in)"),
    ("for_you", "API recommendations for_you (token)"),
    ("similar", "API similar items (token)"),
    ("prices", "API prices, 5 products (public)"),
    ("events", f"API events, {BATCH}-event batches (API key)"),
]

# --- the events client (its own process) -------------------------------------------------------------
def events_client(url: str, api_key: str, seconds: float, concurrency: int, prefix: str, products: list[int],
                  out: str) -> None:
    """Post ``BATCH``-event batches from ``concurrency`` threads for ``seconds``; write every answer to ``out``."""
    import requests

    stop_at = time.monotonic() + seconds
    lock = threading.Lock()
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    accepted: list[str] = []

    def worker(number: int) -> None:
        session = requests.Session()
        session.headers.update({"Authorization": f"Api-Key {api_key}", "Content-Type": "application/json"})
        rng = random.Random(number)
        batch = 0
        while time.monotonic() < stop_at:
            ids = [f"{prefix}-{number}-{batch}-{i}" for i in range(BATCH)]
            body = json.dumps({"events": [
                {"type": "view", "product": rng.choice(products), "session_key": f"load-{number}",
                 "client_event_id": event_id} for event_id in ids]})
            started = time.perf_counter()
            try:
                status = session.post(url, data=body, timeout=30).status_code
            except requests.RequestException:
                status = 0
            elapsed = time.perf_counter() - started
            with lock:
                statuses[str(status)] = statuses.get(str(status), 0) + 1
                latencies.append(elapsed)
                if status == 202:
                    accepted.extend(ids)
            batch += 1

    wall = run_threads(worker, concurrency)
    Path(out).write_text(json.dumps({"latencies": latencies, "statuses": statuses, "accepted": accepted,
                                     "wall": wall}))


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[max(0, min(len(ordered) - 1, int(round(q / 100 * len(ordered) + 0.5)) - 1))] if ordered else 0.0


def run_events(url: str, key: str, seconds: float, level: int, prefix: str, products: list[int]) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        subprocess.run([sys.executable, __file__, "--events-client", url + EVENTS_URL, key, str(seconds), str(level),
                        prefix, ",".join(map(str, products)), out.name], check=True, cwd=ROOT)
        load = json.loads(Path(out.name).read_text())
    bad = sum(n for status, n in load["statuses"].items() if status != "202")
    return {"requests": len(load["latencies"]), "rps": len(load["latencies"]) / load["wall"],
            "p50_ms": 1000 * percentile(load["latencies"], 50), "p99_ms": 1000 * percentile(load["latencies"], 99),
            "errors": bad, "accepted": load["accepted"]}


# --- the run -------------------------------------------------------------------------------------------
def wait_until_flushed(timeout: float = 180) -> float:
    """Ask the worker for a last flush and wait until the buffer is empty; returns the seconds it took."""
    from personalization.capture import buffer
    from personalization.tasks import flush_events

    started = time.monotonic()
    flush_events.delay()
    while time.monotonic() - started < timeout:
        if buffer.length() == 0 and not buffer.is_flushing():
            return time.monotonic() - started
        time.sleep(0.2)
    raise SystemExit(f"the worker did not drain the buffer in {timeout:.0f} s ({buffer.length()} left)")


def verify(key_pk: int, prefix: str, accepted: list[str]) -> dict[str, int]:
    """Compare the run's stored events with the accepted ids: each once, nothing else."""
    from personalization.models import Event

    stored = list(Event.objects.filter(client_event_id__startswith=f"api:k{key_pk}:{prefix}-")
                  .values_list("client_event_id", flat=True))
    stored_ids = [value.split(":", 2)[2] for value in stored]
    accepted_set, stored_set = set(accepted), set(stored_ids)
    return {"accepted": len(accepted), "stored": len(stored_ids), "missing": len(accepted_set - stored_set),
            "duplicated": len(stored_ids) - len(stored_set), "unexpected": len(stored_set - accepted_set)}


def report(results: dict[str, dict[int, dict[str, Any]]], check: dict[str, int], data: dict[str, Any],
           args: argparse.Namespace, command: str, drain_seconds: float, load_end: tuple[float, ...]) -> str:
    total_errors = sum(row["errors"] for rows in results.values() for row in rows.values())
    lines = [
        "## Load (storefront, recommendations, prices and events together)",
        "",
        f"Command: `{command}`  ",
        f"Date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC; {platform.node()}, {os.cpu_count()} cores shared with "
        f"other engineers' jobs; load average at start {LOAD_AT_START[0]:.2f}, at end {load_end[0]:.2f} (1 min).  ",
        f"Stack: gunicorn ({args.workers} sync workers, DJANGO_DEBUG=0), PostgreSQL (`{args.db.rsplit('/', 1)[-1]}`: "
        f"{data['catalogue']:,} products, {data['customers']:,} customers with orders; active recommender "
        f"{data['version']}), Redis (cache, event buffer, broker), one Celery worker on `default` flushing the "
        "buffer during the run. Throttle rates raised via env.  ",
        f"Load: {args.seconds:g} s per scenario and level, from a second process on loopback: `wrk` for the GET "
        "scenarios (2 threads at most; sync gunicorn closes each connection, so each request includes a TCP "
        f"connect), a Python client (one thread and connection per client) for the event batches. Random "
        f"customers ({len(data['tokens'])}) and in-stock products ({len(data['products'])}). The client shares "
        "the 2 cores with the server, worker, database and Redis.",
        "",
        "| scenario | clients | req/s | p50 ms | p99 ms | errors (non-2xx, timeouts, socket) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for key, label in SCENARIOS:
        for level in args.levels:
            row = results.get(key, {}).get(level)
            if row:
                lines.append(f"| {label} | {level} | {row['rps']:,.0f} | {row['p50_ms']:.1f} | {row['p99_ms']:.1f} | "
                             f"{row['errors']} |")
    ok = total_errors == 0 and check["missing"] == check["duplicated"] == check["unexpected"] == 0
    lines += [
        "",
        f"Errors over all runs: **{total_errors}**. Events: {check['accepted']:,} accepted (202) in "
        f"{sum(r['requests'] for r in results.get('events', {}).values()):,} batches; after the worker drained the "
        f"buffer ({drain_seconds:.1f} s after the last batch) the database holds {check['stored']:,} of them: "
        f"**{check['missing']} missing, {check['duplicated']} duplicated, {check['unexpected']} not accepted but "
        f"stored** -> {'exactly once: met' if ok and check['accepted'] else 'NOT met'}.",
    ]
    if args.note:
        lines += ["", args.note]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB))
    parser.add_argument("--redis", default=os.environ.get("BENCH_LOAD_REDIS_URL", DEFAULT_REDIS))
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--levels", type=lambda s: [int(x) for x in s.split(",")], default=[1, 4, 16, 64])
    parser.add_argument("--scenarios", default=",".join(key for key, _ in SCENARIOS))
    parser.add_argument("--customers", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--keep-events", action="store_true", help="leave the run's events in the database")
    parser.add_argument("--note", default="")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--events-client", nargs=7, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.events_client:
        url, key, seconds, level, prefix, products, out = args.events_client
        events_client(url, key, float(seconds), int(level), prefix, [int(p) for p in products.split(",")], out)
        return
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed: apt-get install -y wrk")
    media_root = os.environ.get("SHOPSENSE_MEDIA_ROOT")
    media = f"SHOPSENSE_MEDIA_ROOT={media_root} " if media_root else ""
    command = f"{media}python bench/load.py {' '.join(sys.argv[1:])}".rstrip()
    os.environ.update({
        "DJANGO_SETTINGS_MODULE": "shop_project.settings", "DATABASE_URL": args.db, "REDIS_URL": args.redis,
        "DJANGO_DEBUG": "0", "DJANGO_SECRET_KEY": os.environ.get("DJANGO_SECRET_KEY", "load-" + os.urandom(8).hex()),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost", "THROTTLE_ANON": "100000000/min",
        "THROTTLE_USER": "100000000/min", "THROTTLE_EVENTS": "100000000/min", "LOG_LEVEL": "WARNING",
    })
    sys.path.insert(0, str(ROOT / "bench"))
    # set Django up; tokens, sessions, products (trains a model if none is active); the wrk request scripts
    from serving import lua_script, prepare

    data = prepare(args.customers, seed=0)
    from personalization.capture import api_keys
    from personalization.models import ApiKey, Event
    from personalization.ops import redis_conn
    client = redis_conn.get_client()
    if not client.set("load-bench:running", os.getpid(), nx=True, ex=1800):
        raise SystemExit("Another bench/load.py run uses this Redis database; wait for it to finish.")
    key_row, raw_key = api_keys.create_api_key(f"load bench {dt.datetime.now():%Y-%m-%d %H:%M}")
    prefix = "load-" + uuid.uuid4().hex[:8]
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = Path(tempfile.gettempdir()) / f"load-bench-worker-{os.getpid()}.log"
    worker = start_celery_worker("default", log)
    server = start_gunicorn(port, args.workers)
    scenarios = [key for key, _ in SCENARIOS if key in args.scenarios.split(",")]
    results: dict[str, dict[int, dict[str, Any]]] = {}
    accepted: list[str] = []
    try:
        for key in scenarios:  # warm-up: every code path in both workers (not measured)
            if key == "events":
                accepted += run_events(url, raw_key, 2, 4, prefix + "-warm", data["products"])["accepted"]
            else:
                run_wrk(url, lua_script(key, data), 4, 2)
        for level in args.levels:
            for key in scenarios:
                if key == "events":
                    row = run_events(url, raw_key, args.seconds, level, f"{prefix}-{level}", data["products"])
                    accepted += row.pop("accepted")
                else:
                    raw = run_wrk(url, lua_script(key, data), level, args.seconds)
                    row = {"requests": raw["requests"], "rps": raw["requests"] / (raw["duration_us"] / 1e6),
                           "p50_ms": raw["p50_us"] / 1000, "p99_ms": raw["p99_us"] / 1000, "errors": errors_of(raw)}
                results.setdefault(key, {})[level] = row
                print(f"  {key:8s} {level:3d} clients: {row['rps']:8.0f} req/s p50 {row['p50_ms']:6.1f} ms "
                      f"p99 {row['p99_ms']:6.1f} ms errors {row['errors']}", flush=True)
        stop(server)
        drain_seconds = wait_until_flushed()
        check = verify(key_row.pk, prefix, accepted)
        print(f"Events: {check}", flush=True)
    finally:
        stop(server)
        stop(worker)
        client.delete("load-bench:running")
        if not args.keep_events:
            Event.objects.filter(client_event_id__startswith=f"api:k{key_row.pk}:{prefix}-").delete()
        ApiKey.objects.filter(pk=key_row.pk).delete()
    section = report(results, check, data, args, command, drain_seconds, os.getloadavg())
    publish("load", section, write=not args.no_write)


if __name__ == "__main__":
    main()
