"""Benchmark of serving (PROTOCOL.md §5): the recommendation API and the product page with its widgets,
against a trivial DRF endpoint on the same server as the floor.

gunicorn (2 workers, DJANGO_DEBUG=0, PostgreSQL + Redis) serves the demo project; ``wrk`` (a SECOND
process, on loopback) drives each scenario at 1, 4, 16 and 64 concurrent connections for a fixed time
and reports p50 / p99 latency and requests per second. Each server configuration of ``--servers`` runs
every scenario in turn: ``sync`` (gunicorn's default sync workers, which close every connection, so
each request includes a TCP connect) and ``gthread`` (threaded workers, ``--threads`` each, which keep
connections alive as a proxy or an app client would). Scenarios:

- ``ping``: ``GET /api/ping/`` as a guest (no credentials) - the floor;
- ``ping (token)``: the same with a customer's DRF token - the floor with the API's authentication;
- ``for_you``: ``GET /api/personalization/recommendations/?placement=for_you&limit=10`` with the DRF
  token of a random real customer (one who has orders) per request;
- ``similar``: ``placement=similar&product=<random active product>&limit=10`` with a token;
- ``for_you (guest)``: ``placement=for_you&limit=10`` with a returning guest's session cookie;
- ``product page``: ``/product/<id>/`` of the demo storefront with a signed-in customer's session
  cookie (page, price / stock / recommendation widgets, ``product_viewed`` capture).

    python bench/serving.py                                  # database importer_bench, Redis db 12
    python bench/serving.py --seconds 5 --levels 1,16 --servers gthread --no-write
    python bench/serving.py --train simple,hybrid            # also time the nightly retrain afterwards

The database must hold the real import (``import_online_retail``); when no recommender is active the
script builds profiles and trains ``--model simple`` first. Throttle rates are raised via env so that
the load is not refused. Results go to the ``serving`` section of bench/RESULTS.md.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import threading
import time
from typing import Any

from harness import ERROR_KEYS, ROOT, WRK_SETUP, errors_of, free_port, run_wrk, start_gunicorn, stop
from results_md import publish

DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/importer_bench"
DEFAULT_REDIS = "redis://127.0.0.1:6379/12"
API = "/api/personalization/recommendations/"
LOAD_AT_START = os.getloadavg()


# --- fixtures: tokens, sessions, products --------------------------------------------------------
def prepare(customers: int, seed: int) -> dict[str, Any]:
    """Set Django up in this process; return tokens, session cookies and product ids for the load."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop_project.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
    from django.contrib.sessions.backends.db import SessionStore
    from rest_framework.authtoken.models import Token

    from personalization.capture.visitor import SESSION_KEY as VISITOR_KEY
    from personalization.host import get_product_model
    from personalization.ops import registry
    from shop_project.shop import catalog

    if registry.active_version("recommender") is None:
        print("No active recommender: build_profiles + train_recommenders --model simple", flush=True)
        for command in (["build_profiles"], ["train_recommenders", "--model", "simple"]):
            subprocess.run([sys.executable, "manage.py", *command, "--no-progress"], cwd=ROOT, check=True)
    version = registry.active_version("recommender")
    rng = random.Random(seed)
    user_model = get_user_model()
    buyers = list(user_model._default_manager.filter(orders__isnull=False).distinct().order_by("pk")
                  .values_list("pk", flat=True))
    chosen = sorted(rng.sample(buyers, min(customers, len(buyers))))
    users = list(user_model._default_manager.filter(pk__in=chosen))
    tokens = [Token.objects.get_or_create(user=user)[0].key for user in users]
    backend = settings.AUTHENTICATION_BACKENDS[0]
    signed_in, guests = [], []
    for user in users:
        store = SessionStore()
        store.update({SESSION_KEY: str(user.pk), BACKEND_SESSION_KEY: backend,
                      HASH_SESSION_KEY: user.get_session_auth_hash(), VISITOR_KEY: os.urandom(16).hex()})
        store.create()
        signed_in.append(store.session_key)
        guest = SessionStore()
        guest[VISITOR_KEY] = os.urandom(16).hex()
        guest.create()
        guests.append(guest.session_key)
    product_model = get_product_model()
    products = list(catalog.active_products().filter(stock_on_hand__gt=0).order_by("pk").values_list("pk", flat=True))
    products = sorted(rng.sample(products, min(500, len(products))))
    return {
        "tokens": tokens, "sessions": signed_in, "guest_sessions": guests, "products": products,
        "version": f"{version.pk} ({version.params.get('model', version.params)})" if version else "none",
        "catalogue": product_model._default_manager.count(), "customers": len(buyers),
    }


# --- wrk -----------------------------------------------------------------------------------------
# The request script of every scenario here and in bench/load.py (``home``, ``product``, ``prices`` are load's).
LUA = WRK_SETUP + r"""
local tokens = {%(tokens)s}
local sessions = {%(sessions)s}
local guests = {%(guests)s}
local products = {%(products)s}
local scenario = "%(scenario)s"

request = function()
  local headers = {}
  local path
  if scenario == "ping" then
    path = "/api/ping/"
  elseif scenario == "ping_token" then
    path = "/api/ping/"
    headers["Authorization"] = "Token " .. pick(tokens)
  elseif scenario == "for_you" then
    path = "%(api)s?placement=for_you&limit=10"
    headers["Authorization"] = "Token " .. pick(tokens)
  elseif scenario == "similar" then
    path = "%(api)s?placement=similar&limit=10&product=" .. pick(products)
    headers["Authorization"] = "Token " .. pick(tokens)
  elseif scenario == "guest" then
    path = "%(api)s?placement=for_you&limit=10"
    headers["Cookie"] = "sessionid=" .. pick(guests)
  elseif scenario == "page" or scenario == "product" then
    path = "/product/" .. pick(products) .. "/"
    headers["Cookie"] = "sessionid=" .. pick(sessions)
  elseif scenario == "home" then
    path = "/"
    headers["Cookie"] = "sessionid=" .. pick(sessions)
  elseif scenario == "prices" then
    path = "/api/pricing/prices/?products=" .. pick(products) .. "," .. pick(products) .. "," .. pick(products) ..
      "," .. pick(products) .. "," .. pick(products)
  end
  return wrk.format("GET", path, headers)
end
"""

SCENARIOS = [
    ("ping", "ping (guest) - floor"),
    ("ping_token", "ping (token)"),
    ("for_you", "API for_you (token)"),
    ("similar", "API similar (token)"),
    ("guest", "API for_you (guest)"),
    ("page", "product page (signed in)"),
]


def lua_script(scenario: str, data: dict[str, Any]) -> str:
    """The wrk script of one scenario, with the fixtures inlined."""
    def quoted(values: list[Any]) -> str:
        return ",".join(f'"{value}"' for value in values)

    return LUA % {
        "tokens": quoted(data["tokens"]), "sessions": quoted(data["sessions"]),
        "guests": quoted(data["guest_sessions"]), "products": ",".join(map(str, data["products"])),
        "scenario": scenario, "api": API,
    }


def drain_buffer(stop: threading.Event) -> None:
    """No Celery worker runs during the bench: drop the buffered events (impressions, views) every 2 s so that
    Redis stays small. Flushing is a worker's job, not part of the request path measured here."""
    from personalization.capture import buffer
    from personalization.ops import redis_conn
    client = redis_conn.get_client()
    while not stop.wait(2):
        client.delete(buffer.buffer_key())


def median_row(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Several rounds of one scenario and level: the median of each figure, the sum of the errors."""
    merged = {key: statistics.median(row[key] for row in rows) for key in rows[0] if key not in ERROR_KEYS}
    merged.update({key: sum(row[key] for row in rows) for key in ERROR_KEYS})
    return merged


# --- server --------------------------------------------------------------------------------------
def worker_options(kind: str, threads: int) -> list[str]:
    """The gunicorn worker options of a server configuration (``sync``: none; ``gthread``)."""
    return ["-k", "gthread", "--threads", str(threads), "--keep-alive", "5"] if kind == "gthread" else []


def check_responses(url: str, data: dict[str, Any]) -> None:
    """One request per scenario through urllib: each must answer 200 (the API with items)."""
    import urllib.request

    checks = {
        "ping": ("/api/ping/", {}),
        "for_you": (f"{API}?placement=for_you&limit=10", {"Authorization": f"Token {data['tokens'][0]}"}),
        "similar": (f"{API}?placement=similar&limit=10&product={data['products'][0]}",
                    {"Authorization": f"Token {data['tokens'][0]}"}),
        "guest": (f"{API}?placement=for_you&limit=10", {"Cookie": f"sessionid={data['guest_sessions'][0]}"}),
        "page": (f"/product/{data['products'][0]}/", {"Cookie": f"sessionid={data['sessions'][0]}"}),
    }
    for name, (path, headers) in checks.items():
        with urllib.request.urlopen(urllib.request.Request(url + path, headers=headers), timeout=30) as response:
            body = response.read()
            assert response.status == 200, (name, response.status)
            if path.startswith(API):
                items = json.loads(body)["items"]
                print(f"  check {name}: 200, {len(items)} items", flush=True)
            else:
                print(f"  check {name}: 200, {len(body):,} bytes", flush=True)


# --- training ------------------------------------------------------------------------------------
def time_training(models: list[str]) -> list[tuple[str, float, int]]:
    """Wall time of ``train_recommenders --model M`` (the nightly retrain) for each model."""
    timings = []
    for model in models:
        print(f"Training {model} ...", flush=True)
        started = time.perf_counter()
        completed = subprocess.run([sys.executable, "manage.py", "train_recommenders", "--model", model,
                                    "--no-progress"], cwd=ROOT)
        timings.append((model, time.perf_counter() - started, completed.returncode))
        print(f"  {model}: {timings[-1][1]:.1f} s (exit {completed.returncode})", flush=True)
    return timings


# --- report --------------------------------------------------------------------------------------
def report(results: dict[str, dict[str, dict[int, dict[str, Any]]]], data: dict[str, Any], args: argparse.Namespace,
           command: str, training: list[tuple[str, float, int]], load_end: tuple[float, ...]) -> str:
    levels = args.levels
    lines = [
        "## Serving (recommendation API and product page)",
        "",
        f"Command: `{command}`  ",
        f"Date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC; {platform.node()}, "
        f"{os.cpu_count()} cores shared with other engineers' jobs; load average at start "
        f"{LOAD_AT_START[0]:.2f} / {LOAD_AT_START[1]:.2f} / {LOAD_AT_START[2]:.2f}, at end "
        f"{load_end[0]:.2f} / {load_end[1]:.2f} / {load_end[2]:.2f} (1 / 5 / 15 min).  ",
        f"Server: gunicorn, {args.workers} workers, DJANGO_DEBUG=0, PostgreSQL (`{args.db.rsplit('/', 1)[-1]}`, "
        f"full import: {data['catalogue']:,} products, {data['customers']:,} customers with orders), Redis cache "
        f"+ event buffer; throttle rates raised via env. Active recommender: version {data['version']}.  ",
        f"Load: `wrk` (a second process, loopback; {min(max(levels), 2)} threads at most), {args.seconds:g} s per "
        f"level after a warm-up" + (f", {args.rounds} interleaved rounds, medians reported" if args.rounds > 1 else "")
        + f"; a random one of {len(data['tokens'])} real customers (DRF token or session) and "
        f"of {len(data['products'])} in-stock products per request. Latency in ms; the client shares the 2 cores "
        "with the server. No Celery worker runs: the event buffer is emptied every 2 s.",
    ]
    for kind in results:
        lines += ["", f"### gunicorn `{' '.join(['-w', str(args.workers), *worker_options(kind, args.threads)])}`"
                      + (" (sync: every request opens a new connection)" if kind == "sync" else
                         " (threaded workers, keep-alive)"), ""]
        lines += server_tables(results[kind], levels)
    if training:
        lines += ["", "Nightly retrain on the full data (`python manage.py train_recommenders --model M`, wall "
                      "time, 2 shared cores, after the serving runs):", "",
                  "| model | wall s | exit |", "|---|---:|---:|"]
        lines += [f"| {model} | {seconds:.1f} | {code} |" for model, seconds, code in training]
    if args.note:
        lines += ["", args.note]
    return "\n".join(lines)


def server_tables(results: dict[str, dict[int, dict[str, Any]]], levels: list[int]) -> list[str]:
    """The latency table, the p99 ratios to the floor and the targets of one server configuration."""
    ms = lambda us: us / 1000  # noqa: E731
    lines = ["| scenario | clients | req/s | p50 ms | p90 ms | p99 ms | errors |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for key, label in SCENARIOS:
        for level in levels:
            row = results.get(key, {}).get(level)
            if not row:
                continue
            errors = errors_of(row)
            rps = row["requests"] / (row["duration_us"] / 1e6)
            lines.append(f"| {label} | {level} | {rps:,.0f} | {ms(row['p50_us']):.1f} | {ms(row['p90_us']):.1f} | "
                         f"{ms(row['p99_us']):.1f} | {errors} |")
    lines += ["", "Ratio API p99 / floor p99 (same run, same level; floor = guest ping, and token ping):", "",
              "| clients | for_you / ping | for_you / ping (token) | similar / ping | guest / ping | page / ping |",
              "|---:|---:|---:|---:|---:|---:|"]
    for level in levels:
        try:
            floor = results["ping"][level]["p99_us"]
            floor_token = results["ping_token"][level]["p99_us"]
            cells = [results["for_you"][level]["p99_us"] / floor, results["for_you"][level]["p99_us"] / floor_token,
                     results["similar"][level]["p99_us"] / floor, results["guest"][level]["p99_us"] / floor,
                     results["page"][level]["p99_us"] / floor]
        except KeyError:
            continue
        lines.append(f"| {level} | " + " | ".join(f"{cell:.2f}" for cell in cells) + " |")
    if 16 in levels and 16 in results.get("for_you", {}) and 16 in results.get("ping", {}):
        p99 = ms(results["for_you"][16]["p99_us"])
        ratio = results["for_you"][16]["p99_us"] / results["ping"][16]["p99_us"]
        lines += ["", f"Targets (issue): API p99 < 15 ms at 16 clients -> for_you {p99:.1f} ms "
                      f"({'met' if p99 < 15 else 'missed'}); within 1.5x the trivial endpoint's p99 -> "
                      f"{ratio:.2f}x ({'met' if ratio <= 1.5 else 'missed'})."]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB))
    parser.add_argument("--redis", default=os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS))
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=1,
                        help="Measure every scenario and level this many times (interleaved) and report the medians.")
    parser.add_argument("--levels", type=lambda s: [int(x) for x in s.split(",")], default=[1, 4, 16, 64])
    parser.add_argument("--scenarios", default=",".join(key for key, _ in SCENARIOS))
    parser.add_argument("--customers", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--servers", default="sync,gthread", help="Server configurations to run: sync, gthread.")
    parser.add_argument("--threads", type=int, default=4, help="Threads per gthread worker.")
    parser.add_argument("--train", default="", help="Models to time afterwards, e.g. simple,hybrid.")
    parser.add_argument("--note", default="", help="A line appended to the section.")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed: apt-get install -y wrk")
    command = "python bench/serving.py " + " ".join(sys.argv[1:])
    os.environ.update({
        "DATABASE_URL": args.db, "REDIS_URL": args.redis, "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": os.environ.get("DJANGO_SECRET_KEY", "serving-bench-" + os.urandom(8).hex()),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost", "THROTTLE_ANON": "100000000/min",
        "THROTTLE_USER": "100000000/min", "THROTTLE_EVENTS": "100000000/min",
    })
    data = prepare(args.customers, args.seed)
    print(f"Fixtures: {len(data['tokens'])} customers, {len(data['products'])} products; "
          f"recommender {data['version']}", flush=True)
    scenarios = [key for key, _ in SCENARIOS if key in args.scenarios.split(",")]
    results: dict[str, dict[str, dict[int, dict[str, Any]]]] = {}
    draining = threading.Event()
    threading.Thread(target=drain_buffer, args=(draining,), daemon=True).start()
    for kind in args.servers.split(","):
        if kind not in {"sync", "gthread"}:
            raise SystemExit(f"Unknown server configuration {kind!r}: choose sync or gthread.")
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        print(f"gunicorn {kind}:", flush=True)
        server = start_gunicorn(port, args.workers, options=worker_options(kind, args.threads))
        per_server = results.setdefault(kind, {})
        try:
            check_responses(url, data)
            for key in scenarios:  # warm-up: every code path in both workers
                run_wrk(url, lua_script(key, data), 4, 2)
            for level in args.levels:  # scenarios interleaved per level so that machine noise hits them alike
                rounds: dict[str, list[dict[str, Any]]] = {}
                for _ in range(args.rounds):
                    for key in scenarios:
                        row = run_wrk(url, lua_script(key, data), level, args.seconds)
                        rounds.setdefault(key, []).append(row)
                        print(f"  {key:10s} {level:3d} clients: {row['requests'] / (row['duration_us'] / 1e6):8.0f} "
                              f"req/s p50 {row['p50_us'] / 1000:6.1f} ms p99 {row['p99_us'] / 1000:6.1f} ms "
                              f"errors {row['status_errors'] + row['timeouts'] + row['read_errors']}", flush=True)
                for key, rows in rounds.items():
                    per_server.setdefault(key, {})[level] = median_row(rows)
        finally:
            stop(server)
    draining.set()
    load_end = os.getloadavg()
    training = time_training([m for m in args.train.split(",") if m]) if args.train else []
    section = report(results, data, args, command, training, load_end)
    publish("serving", section, write=not args.no_write)


if __name__ == "__main__":
    main()
