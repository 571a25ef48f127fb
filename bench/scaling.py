"""Scaling figures on synthetic data (issue #7 §6): event volume and catalogue size.

(a) Event volume. A database of its own (``scaling_bench``: the demo schema, 10,000 synthetic products) whose
    event table grows step by step (``--sizes``, default 1M, 3M, 10M rows; generated in SQL with random
    visitors, products and timestamps over a year). At each size, with everything the table carries (9 indexes,
    the unique ``client_event_id``):
    - flush: ``--flush-events`` view events pushed to the Redis buffer, then ``capture.flush_buffer()`` (the
      worker's task) moves them to the table - events/s;
    - direct insert (the path when Redis is down): 1,000-event batches through ``capture.insert_events``;
    - a serving read: a visitor's recent views (``session_key`` + time index), median of 200.
    The table grows only while the run stays inside ``--budget-minutes``; sizes not reached are reported.
    With ``--part flushers`` only: N flushers side by side (``--flushers 1,2``). ``--flush-events`` events are
    pushed through ``buffer.push`` into a buffer of N shards (``EVENT_BUFFER_SHARDS``), then N flusher
    processes (each the worker's ``flush_buffer()``, started and connected before the clock starts) drain it
    together; events/s over the wall time from the first start to the last end, the flushers' CPU seconds
    and their PostgreSQL backends' CPU seconds (read from /proc), and a check that every event is stored
    once. Section ``scaling-flushers``.
(b) Catalogue size. Synthetic purchases (Zipf-distributed item popularity, repeat buying) for 10,000 and 100,000
    items, trained with the model served above 1M purchases (``simple``: repeat purchases + item kNN): fit time,
    the similar-items table for every item (what training precomputes), "for you" lists for 2,048 customers
    (time per customer, extrapolated to all) and the artifact size; no database involved.

    flock /tmp/shopsense-bench.lock python bench/scaling.py            # <= ~15 min
    python bench/scaling.py --part flushers --flushers 1,2 --flush-events 200000 --sizes 1000000
    python bench/scaling.py --sizes 200000 --catalogues 10000 --no-write

Results go to the ``scaling`` section of bench/RESULTS.md.
"""
from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from results_md import publish  # noqa: E402

DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/scaling_bench"
DEFAULT_REDIS = "redis://127.0.0.1:6379/10"
PRODUCTS = 10_000
LOAD_AT_START = os.getloadavg()


def setup_django(database_url: str, redis_url: str) -> None:
    os.environ.update({
        "DJANGO_SETTINGS_MODULE": "shop_project.settings", "DATABASE_URL": database_url, "REDIS_URL": redis_url,
        "LOG_LEVEL": "WARNING",
    })
    sys.path.insert(0, str(ROOT))
    from capture import create_database  # the other benches' helper: CREATE DATABASE if missing

    create_database(database_url)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


# --- (a) event volume ---------------------------------------------------------------------------------
def ensure_products() -> list[int]:
    from shop_project.shop.models import Category, Product

    if Product.objects.count() < PRODUCTS:
        categories = [Category.objects.get_or_create(name=f"Category {n}", defaults={"slug": f"category-{n}"})[0]
                      for n in range(20)]
        Product.objects.bulk_create([
            Product(sku=f"SYN{n:06d}", name=f"Synthetic product {n}", category=categories[n % 20],
                    list_price="9.99", stock_on_hand=100)
            for n in range(Product.objects.count(), PRODUCTS)], batch_size=5000)
    return list(Product.objects.order_by("pk").values_list("pk", flat=True))


def grow_events(target: int, products: list[int]) -> tuple[int, float]:
    """Insert synthetic view events (SQL) until the table holds ``target`` rows; returns (rows added, seconds)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM personalization_event")
        current = cursor.fetchone()[0]
        started = time.perf_counter()
        low, high = min(products), max(products)
        step = 500_000
        for start in range(current, target, step):
            stop = min(target, start + step)
            cursor.execute(
                """
                INSERT INTO personalization_event (event_type, session_key, product_id, quantity, query,
                    recommendation_id, source, client_event_id, timestamp, received_at)
                SELECT 'view', 'v' || (random() * 200000)::int, %s + (random() * %s)::int, 1, '', '', 'web',
                       'syn-' || n, now() - random() * interval '365 days', now()
                FROM generate_series(%s, %s) AS n
                """,
                [low, high - low, start, stop - 1],
            )
        cursor.execute("ANALYZE personalization_event")
    return max(0, target - current), time.perf_counter() - started


def time_flush(count: int, products: list[int], size: int) -> float:
    """Events/s moved from the Redis buffer to the table by ``flush_buffer`` (the worker's task)."""
    from personalization.capture import buffer
    from personalization.capture import services as capture
    from personalization.ops import redis_conn
    client = redis_conn.get_client()
    rng = np.random.default_rng(size)
    payload = [capture.build_event(event_type="view", session_key=f"f{rng.integers(50_000)}",
                                   product_id=int(rng.choice(products)),
                                   client_event_id=f"flush-{size}-{n}").to_json() for n in range(count)]
    for start in range(0, count, 10_000):
        client.rpush(buffer.buffer_key(), *payload[start:start + 10_000])
    started = time.perf_counter()
    flushed = capture.flush_buffer()
    seconds = time.perf_counter() - started
    if flushed != count:
        raise SystemExit(f"flushed {flushed} of {count} events")
    return count / seconds


def time_direct_insert(batches: int, products: list[int], size: int) -> float:
    """Events/s through ``insert_events`` in 1,000-event batches (the path while Redis is down)."""
    from personalization.capture import services as capture

    rng = np.random.default_rng(size + 1)
    started = time.perf_counter()
    for batch in range(batches):
        capture.insert_events([capture.build_event(event_type="view", session_key=f"d{rng.integers(50_000)}",
                                                   product_id=int(rng.choice(products)),
                                                   client_event_id=f"direct-{size}-{batch}-{n}")
                               for n in range(1000)])
    return batches * 1000 / (time.perf_counter() - started)


def time_recent_views(samples: int = 200) -> float:
    """Median ms of one visitor's 10 most recent views (the guest recommendations' query)."""
    from personalization.models import Event

    rng = np.random.default_rng(0)
    times = []
    for _ in range(samples):
        key = f"v{rng.integers(200_000)}"
        started = time.perf_counter()
        list(Event.objects.filter(session_key=key, event_type="view").order_by("-timestamp")
             .values_list("product_id", flat=True)[:10])
        times.append(time.perf_counter() - started)
    return 1000 * statistics.median(times)


def table_size() -> tuple[int, float, float]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*), pg_table_size('personalization_event'), "
                       "pg_indexes_size('personalization_event') FROM personalization_event")
        rows, table, indexes = cursor.fetchone()
    return rows, table / 2**30, indexes / 2**30


def bench_events(args: argparse.Namespace, deadline: float) -> list[dict[str, Any]]:
    products = ensure_products()
    results = []
    for size in args.sizes:
        if time.monotonic() > deadline:
            print(f"  {size:,} rows: skipped (time budget)", flush=True)
            results.append({"size": size, "skipped": True})
            continue
        added, seconds = grow_events(size, products)
        print(f"  grew the table by {added:,} rows in {seconds:.0f} s", flush=True)
        flush_rate = time_flush(args.flush_events, products, size)
        direct_rate = time_direct_insert(args.direct_batches, products, size)
        recent_ms = time_recent_views()
        rows, table_gb, index_gb = table_size()
        row = {"size": size, "rows": rows, "table_gb": table_gb, "index_gb": index_gb, "flush": flush_rate,
               "direct": direct_rate, "recent_ms": recent_ms, "grow_rate": added / seconds if seconds else 0.0}
        print(f"  {rows:,} rows ({table_gb:.1f} + {index_gb:.1f} GiB): flush {flush_rate:,.0f} ev/s, direct "
              f"{direct_rate:,.0f} ev/s, recent views {recent_ms:.2f} ms", flush=True)
        results.append(row)
    return results


# --- (b) catalogue size ----------------------------------------------------------------------------------
def synthetic_purchases(n_items: int, n_users: int, n_purchases: int, seed: int = 0):
    """Zipf item popularity; each user re-buys from a small personal set half of the time."""
    from personalization.ml.base import Interactions

    rng = np.random.default_rng(seed)
    popularity = 1.0 / np.arange(1, n_items + 1) ** 0.9
    popularity /= popularity.sum()
    users = rng.integers(0, n_users, n_purchases)
    random_items = rng.choice(n_items, size=n_purchases, p=popularity)
    favourites = rng.choice(n_items, size=(n_users, 5), p=popularity)
    repeat = rng.random(n_purchases) < 0.5
    items = np.where(repeat, favourites[users, rng.integers(0, 5, n_purchases)], random_items)
    now = int(dt.datetime(2026, 1, 1, tzinfo=dt.UTC).timestamp())
    timestamps = now - rng.integers(0, 365 * 86_400, n_purchases)
    return Interactions(users, items, n_users, n_items, timestamps=timestamps, now=now)


def bench_catalogue(n_items: int, n_users: int, n_purchases: int) -> dict[str, Any]:
    from personalization.recommending.blend import RepeatThenNeighbours
    from personalization.recommending.training import _neighbour_table

    data = synthetic_purchases(n_items, n_users, n_purchases)
    started = time.perf_counter()
    model = RepeatThenNeighbours().fit(data)
    fit_s = time.perf_counter() - started
    started = time.perf_counter()
    _neighbour_table(model.knn_.similar_items, n_items, 30)
    similar_s = time.perf_counter() - started
    sample = np.arange(min(2048, n_users))
    started = time.perf_counter()
    for lo in range(0, sample.size, 256):
        model.recommend(sample[lo:lo + 256], n=50)
    per_user_ms = 1000 * (time.perf_counter() - started) / sample.size
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **model.to_arrays())
    return {"items": n_items, "users": n_users, "purchases": n_purchases, "fit_s": fit_s, "similar_s": similar_s,
            "per_user_ms": per_user_ms, "all_users_s": per_user_ms * n_users / 1000,
            "artifact_mb": len(buffer.getvalue()) / 2**20, "dense_batch_mb": 1024 * n_items * 8 / 2**20}


# --- (c) several flushers ------------------------------------------------------------------------------
GO_KEY = "shopsense:bench:flushers-go"


def _backend_cpu_seconds(pid: int) -> float:
    """user + system CPU seconds of a local process (a PostgreSQL backend) from /proc (nan if unreadable)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


def flusher_child(shards: int, out: str) -> None:
    """One flusher process: wait for the go signal, drain what it can, write its timings as JSON."""
    from django.conf import settings
    from django.db import connection
    from django.test import override_settings

    from personalization.capture import buffer
    from personalization.capture import services as capture
    from personalization.ops import redis_conn
    override_settings(PERSONALIZATION={**settings.PERSONALIZATION, "EVENT_BUFFER_SHARDS": shards}).enable()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    client = redis_conn.get_client()
    client.rpush(GO_KEY + ":ready", "1")
    client.blpop([GO_KEY], timeout=600)
    backend_before, cpu_before = _backend_cpu_seconds(backend), time.process_time()
    started = time.time()
    flushed = 0
    while True:
        done = capture.flush_buffer()
        flushed += done
        if not done:  # every shard is drained or held by another flusher
            break
    ended = time.time()
    Path(out).write_text(json.dumps({
        "flushed": flushed, "started": started, "ended": ended, "cpu_s": time.process_time() - cpu_before,
        "backend_cpu_s": _backend_cpu_seconds(backend) - backend_before, "left": buffer.length(),
    }))


def time_flushers(count: int, flushers: int, products: list[int], args: argparse.Namespace) -> dict[str, Any]:
    """N flusher processes draining ``count`` events from an N-shard buffer together."""
    import tempfile

    from django.conf import settings
    from django.db import connection
    from django.test import override_settings

    from personalization.capture import buffer
    from personalization.capture import services as capture
    from personalization.ops import redis_conn

    client = redis_conn.get_client()
    tag = f"fl{flushers}-{int(time.time())}"
    rng = np.random.default_rng(flushers)
    with override_settings(PERSONALIZATION={**settings.PERSONALIZATION, "EVENT_BUFFER_SHARDS": flushers,
                                            "EVENT_FLUSH_THRESHOLD": 10**9}):
        client.delete(*buffer.shard_keys(), GO_KEY, GO_KEY + ":ready")
        for start in range(0, count, 1000):
            chunk = [capture.build_event(event_type="view", session_key=f"f{rng.integers(50_000)}",
                                         product_id=int(rng.choice(products)),
                                         client_event_id=f"{tag}-{n}").to_json()
                     for n in range(start, min(count, start + 1000))]
            pushed = buffer.push(chunk)
            while pushed < len(chunk):  # a Redis timeout on the loaded machine: push the rest again
                redis_conn.reset()
                pushed += buffer.push(chunk[pushed:])
        shard_lengths = [int(client.llen(key)) for key in buffer.shard_keys()]
    with tempfile.TemporaryDirectory() as tmp:
        outs = [str(Path(tmp) / f"flusher-{n}.json") for n in range(flushers)]
        env = {**os.environ, "SCALING_CHILD": "1"}
        children = [subprocess.Popen([sys.executable, __file__, "--db", args.db, "--redis", args.redis,
                                      "--flusher-child", str(flushers), out], env=env) for out in outs]
        while int(client.llen(GO_KEY + ":ready")) < flushers:
            if any(child.poll() is not None for child in children):
                raise SystemExit("a flusher process died before the start")
            time.sleep(0.2)
        client.rpush(GO_KEY, *["go"] * flushers)
        for child in children:
            if child.wait(timeout=1800):
                raise SystemExit("a flusher process failed")
        results = [json.loads(Path(out).read_text()) for out in outs]
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*), count(DISTINCT client_event_id) FROM personalization_event "
                       "WHERE client_event_id LIKE %s", [f"{tag}-%"])
        stored, distinct = cursor.fetchone()
    wall = max(r["ended"] for r in results) - min(r["started"] for r in results)
    flushed = sum(r["flushed"] for r in results)
    return {"flushers": flushers, "events": count, "shard_lengths": shard_lengths, "flushed": flushed,
            "per_flusher": [r["flushed"] for r in results], "wall_s": wall, "rate": flushed / wall,
            "cpu_s": sum(r["cpu_s"] for r in results), "backend_cpu_s": sum(r["backend_cpu_s"] for r in results),
            "exactly_once": stored == distinct == count}


def bench_flushers(args: argparse.Namespace) -> list[dict[str, Any]]:
    products = ensure_products()
    size = args.sizes[0]
    added, seconds = grow_events(size, products)
    if added:
        print(f"  grew the table by {added:,} rows in {seconds:.0f} s", flush=True)
    rows = []
    for _ in range(args.rounds):  # rounds interleave the flusher counts so that machine noise hits them alike
        for flushers in args.flushers:
            row = time_flushers(args.flush_events, flushers, products, args)
            print(f"  {flushers} flusher(s): {row}", flush=True)
            rows.append(row)
    return rows


def report_flushers(rows: list[dict[str, Any]], args: argparse.Namespace, command: str) -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM personalization_event")
        table_rows = cursor.fetchone()[0]
    load_end = os.getloadavg()
    lines = [
        "## Scaling: several flushers (issue #18)",
        "",
        f"Command: `{command}`  ",
        f"Date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC; {platform.node()}, {os.cpu_count()} cores; load "
        f"average at start {LOAD_AT_START[0]:.2f}, at end {load_end[0]:.2f} (1 min)"
        + (" (other jobs on the cores: wall times inflated). " if LOAD_AT_START[0] >= 1.0 else " (quiet). ")
        + f"PostgreSQL default settings, the event table holding {table_rows:,} rows with its nine indexes.",
        "",
        f"{args.flush_events:,} view events pushed (`buffer.push`, 1,000 per call) into a buffer of N shards, then "
        "N flusher processes (`flush_buffer()`, the worker's task) drain it together; the clock runs from the "
        "first flusher's start to the last one's end (process start-up excluded). CPU: the flushers' own, and "
        "their PostgreSQL backends' (from /proc).",
        "",
        "| flushers (= shards) | events per shard | events/flusher | wall s | events/s | flusher CPU s | "
        "PostgreSQL backend CPU s | exactly once |",
        "|---:|---|---|---:|---:|---:|---:|---|",
    ]
    for row in rows:
        lines.append(f"| {row['flushers']} | {', '.join(f'{n:,}' for n in row['shard_lengths'])} | "
                     f"{', '.join(f'{n:,}' for n in row['per_flusher'])} | {row['wall_s']:.1f} | {row['rate']:,.0f} | "
                     f"{row['cpu_s']:.1f} | {row['backend_cpu_s']:.1f} | {'yes' if row['exactly_once'] else 'NO'} |")
    by_count: dict[int, list[float]] = {}
    for row in rows:
        by_count.setdefault(row["flushers"], []).append(row["rate"])
    if 1 in by_count and len(by_count) > 1:
        base = statistics.median(by_count[1])
        lines += ["", "Median events/s against one flusher: " + "; ".join(
            f"{n} flushers {statistics.median(r):,.0f} ({statistics.median(r) / base:.2f}x)"
            for n, r in sorted(by_count.items()) if n != 1) + " (target: 2 flushers >= 1.6x)."]
    if args.note:
        lines += ["", args.note]
    return "\n".join(lines)


# --- report -----------------------------------------------------------------------------------------------
def report(events: list[dict[str, Any]], catalogues: list[dict[str, Any]], args: argparse.Namespace,
           command: str) -> str:
    load_end = os.getloadavg()
    lines = [
        "## Scaling (synthetic data: event volume, catalogue size)",
        "",
        f"Command: `{command}`  ",
        f"Date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC; {platform.node()}, {os.cpu_count()} cores shared with "
        f"other engineers' jobs; load average at start {LOAD_AT_START[0]:.2f}, at end {load_end[0]:.2f} (1 min); "
        "PostgreSQL with its default settings (128 MB shared buffers).",
        "",
        f"**Event volume** (database `{args.db.rsplit('/', 1)[-1]}`, {PRODUCTS:,} products; synthetic view events "
        "over a year, 200,000 visitors). Flush: "
        f"{args.flush_events:,} events pushed to Redis, then `flush_buffer()`; direct insert: {args.direct_batches} "
        "batches of 1,000 through `insert_events`; recent views: median of 200 lookups of a visitor's last 10 views.",
        "",
        "| events in the table | table + indexes GiB | flush events/s | direct insert events/s | recent views ms |",
        "|---:|---:|---:|---:|---:|",
    ]
    for row in events:
        if row.get("skipped"):
            lines.append(f"| {row['size']:,} | not reached within the time budget | | | |")
        else:
            lines.append(f"| {row['rows']:,} | {row['table_gb']:.2f} + {row['index_gb']:.2f} | {row['flush']:,.0f} | "
                         f"{row['direct']:,.0f} | {row['recent_ms']:.2f} |")
    lines += [
        "",
        "**Catalogue size** (the `simple` model served above 1M purchases; synthetic purchases with Zipf "
        "popularity and repeat buying; no database). Similar-items table: 30 neighbours for every item, as "
        "training precomputes them; lists: 50 items per customer for 2,048 customers, extrapolated to all.",
        "",
        "| items | customers | purchases | fit s | similar-items table s | list ms / customer | all lists s | "
        "artifact MiB | dense score batch MiB (1,024 customers) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in catalogues:
        lines.append(f"| {row['items']:,} | {row['users']:,} | {row['purchases']:,} | {row['fit_s']:.1f} | "
                     f"{row['similar_s']:.1f} | {row['per_user_ms']:.2f} | {row['all_users_s']:.0f} | "
                     f"{row['artifact_mb']:.1f} | {row['dense_batch_mb']:,.0f} |")
    if args.note:
        lines += ["", args.note]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", default=os.environ.get("BENCH_SCALING_DATABASE_URL", DEFAULT_DB))
    parser.add_argument("--redis", default=os.environ.get("BENCH_SCALING_REDIS_URL", DEFAULT_REDIS))
    parser.add_argument("--sizes", type=lambda s: [int(x) for x in s.split(",")],
                        default=[1_000_000, 3_000_000, 10_000_000])
    parser.add_argument("--flush-events", type=int, default=50_000)
    parser.add_argument("--direct-batches", type=int, default=20)
    parser.add_argument("--catalogues", type=lambda s: [int(x) for x in s.split(",")], default=[10_000, 100_000])
    parser.add_argument("--budget-minutes", type=float, default=10.0, help="stop growing the event table after this")
    parser.add_argument("--note", default="")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--part", choices=["all", "flushers"], default="all")
    parser.add_argument("--flushers", type=lambda s: [int(x) for x in s.split(",")], default=[1, 2])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--flusher-child", nargs=2, metavar=("SHARDS", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    command = "python bench/scaling.py " + " ".join(sys.argv[1:])
    deadline = time.monotonic() + 60 * args.budget_minutes
    if args.flusher_child:
        os.environ.update({"DJANGO_SETTINGS_MODULE": "shop_project.settings", "DATABASE_URL": args.db,
                           "REDIS_URL": args.redis, "LOG_LEVEL": "WARNING"})
        sys.path.insert(0, str(ROOT))
        import django

        django.setup()
        flusher_child(int(args.flusher_child[0]), args.flusher_child[1])
        return
    setup_django(args.db, args.redis)
    if args.part == "flushers":
        print("(c) several flushers ...", flush=True)
        rows = bench_flushers(args)
        publish("scaling-flushers", report_flushers(rows, args, command), write=not args.no_write)
        return
    print("(b) catalogue size ...", flush=True)
    catalogues = []
    for n_items in args.catalogues:
        n_users = max(20_000, n_items)
        row = bench_catalogue(n_items, n_users, n_purchases=20 * n_users)
        print(f"  {n_items:,} items: {row}", flush=True)
        catalogues.append(row)
    print("(a) event volume ...", flush=True)
    events = bench_events(args, deadline)
    section = report(events, catalogues, args, command)
    publish("scaling", section, write=not args.no_write)


if __name__ == "__main__":
    main()
