"""Pieces shared by the server benchmarks (bench/serving.py, bench/load.py, bench/scaling.py,
bench/capture.py): a free port, gunicorn, a Celery worker, ``wrk`` runs and client threads, all as
separate processes on loopback."""
from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

# The start of a wrk request script: a per-thread random seed and ``pick(list)``.
WRK_SETUP = r"""
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
end

function init(args)
  math.randomseed(id * 7919 + os.time())
end

local function pick(list) return list[math.random(#list)] end
"""

# wrk's summary as one JSON line (append to a request script that defines ``request``).
WRK_DONE = r"""
done = function(summary, latency, requests)
  io.write(string.format(
    "RESULT {\"requests\": %d, \"duration_us\": %d, \"p50_us\": %d, \"p90_us\": %d, \"p99_us\": %d, " ..
    "\"max_us\": %d, \"mean_us\": %f, \"connect_errors\": %d, \"read_errors\": %d, \"write_errors\": %d, " ..
    "\"timeouts\": %d, \"status_errors\": %d}\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean, summary.errors.connect, summary.errors.read, summary.errors.write,
    summary.errors.timeout, summary.errors.status))
end
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 60, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise SystemExit(f"the server exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"nothing listens on port {port} after {timeout:.0f} s")


def start_gunicorn(port: int, workers: int, env: dict[str, str] | None = None,
                   options: Sequence[str] = ()) -> subprocess.Popen[bytes]:
    """gunicorn serving the demo project on loopback (sync workers unless ``options`` say otherwise, e.g.
    ``-k gthread --threads 4``); returns once it listens, stops it when it does not start."""
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "shop_project.wsgi:application", "-w", str(workers), *options,
         "-b", f"127.0.0.1:{port}", "--log-level", "warning", "--timeout", "120"],
        cwd=ROOT, env=env or os.environ.copy(),
    )
    try:
        wait_for_port(port, process=server)
    except SystemExit:
        stop(server)
        raise
    return server


def start_celery_worker(queues: str, log: Path, env: dict[str, str] | None = None,
                        concurrency: int = 1) -> subprocess.Popen[bytes]:
    """A Celery worker of the demo project on ``queues`` (output to ``log``)."""
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "shop_project", "worker", "-Q", queues, "--pool=prefork",
             f"--concurrency={concurrency}", "--without-gossip", "--without-mingle", "-l", "warning",
             "-n", f"bench-{os.getpid()}@%h"],
            cwd=ROOT, env=env or os.environ.copy(), stdout=out, stderr=subprocess.STDOUT,
        )


def stop(process: subprocess.Popen, timeout: float = 30) -> None:
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=timeout)


def run_wrk(url: str, script: str, connections: int, seconds: float) -> dict[str, Any]:
    """One ``wrk`` run of a Lua request script (``WRK_DONE`` is appended); returns its summary."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script + WRK_DONE)
    try:
        completed = subprocess.run(
            ["wrk", "-t", str(min(connections, 2)), "-c", str(connections), "-d", f"{max(1, round(seconds))}s",
             "--timeout", "10s", "-s", handle.name, url],
            capture_output=True, text=True, check=True,
        )
    finally:
        os.unlink(handle.name)
    match = re.search(r"^RESULT (.*)$", completed.stdout, re.M)
    if not match:
        raise SystemExit(f"wrk printed no result:\n{completed.stdout}\n{completed.stderr}")
    return json.loads(match.group(1))


ERROR_KEYS = ("connect_errors", "read_errors", "write_errors", "timeouts", "status_errors")


def errors_of(row: dict[str, Any]) -> int:
    """Non-2xx/3xx answers, timeouts and socket errors of a ``run_wrk`` summary."""
    return sum(row[key] for key in ERROR_KEYS)


def run_threads(worker: Callable[[int], None], count: int) -> float:
    """Run ``worker(0)`` .. ``worker(count - 1)`` in threads until all return; the wall seconds it took."""
    began = time.monotonic()
    threads = [threading.Thread(target=worker, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.monotonic() - began
