"""Real processes for the tests: Celery workers, gunicorn, and private Redis / PostgreSQL servers.

A test that stops or restarts a server starts its own on a free port (the shared ones on 6379 and
5432 serve other runs). Every process is ended by the code that started it.
"""
from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import pytest

ROOT = Path(__file__).resolve().parents[1]
WAIT_SECONDS = 25


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_url(db: dict) -> str:
    """The URL of a Django database settings dict (the test database, for a subprocess)."""
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{Path(db['NAME']).resolve()}"
    if db["ENGINE"] != "django.db.backends.postgresql":
        pytest.skip(f"no URL for {db['ENGINE']}")
    auth = quote(db.get("USER") or "", safe="")
    if db.get("PASSWORD"):
        auth += ":" + quote(db["PASSWORD"], safe="")
    host = db.get("HOST") or "127.0.0.1"
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgres://{auth}@{host}{port}/{quote(db['NAME'], safe='')}"


def tail(logs: Iterable[Path], chars: int = 3000) -> str:
    return "\n".join(f"--- {p}\n" + p.read_text(errors="replace")[-chars:] for p in logs if p.exists())


def wait_for(condition: Callable[[], bool], what: str, logs: Iterable[Path] = (),
             timeout: float = WAIT_SECONDS) -> None:
    """Poll ``condition`` until it holds; fail the test with the logs' tails after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    pytest.fail(f"Timed out waiting for {what}.\n{tail(logs)}")


def stop(process: subprocess.Popen, timeout: float = 10) -> None:
    """Terminate a process we started (kill it if it does not exit in time)."""
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=timeout)


def logged_popen(command: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen:
    with log.open("ab") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    process.log = log  # type: ignore[attr-defined]
    return process


def celery_worker_command(queues: str, name: str, pool: str = "solo", concurrency: int = 1) -> list[str]:
    return [
        sys.executable, "-m", "celery", "-A", "shop_project", "worker", "-Q", queues, f"--pool={pool}",
        f"--concurrency={concurrency}", "--without-gossip", "--without-mingle", "--without-heartbeat",
        "-l", "info", "-n", f"{name}@%h",
    ]


def start_gunicorn(env: dict[str, str], log: Path, workers: int = 2,
                   timeout: float = 60) -> tuple[subprocess.Popen, str]:
    """gunicorn serving ``DJANGO_SETTINGS_MODULE`` from ``env`` on a free loopback port; returns (process, base URL)."""
    port = free_port()
    process = logged_popen(
        [sys.executable, "-m", "gunicorn", "shop_project.wsgi:application", "-w", str(workers), "-b",
         f"127.0.0.1:{port}", "--log-level", "warning", "--timeout", "60", "--graceful-timeout", "5"],
        log, env,
    )
    base = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        if process.poll() is not None:
            pytest.fail(f"gunicorn exited with {process.returncode}.\n{tail([log])}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            return False

    wait_for(answers, "gunicorn to listen", [log], timeout=timeout)
    return process, base


def http(method: str, url: str, body: bytes | None = None, headers: dict[str, str] | None = None,
         timeout: float = 30) -> tuple[int, bytes]:
    """(status, body) of one request; a connection failure is status 0 with the error as the body."""
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except (OSError, urllib.error.URLError) as exc:
        return 0, repr(exc).encode()


# --- private servers ------------------------------------------------------------------------------
@dataclass
class PrivateRedis:
    """A throw-away ``redis-server`` on a free port (no snapshots; an append-only file if ``persistent``)."""

    directory: Path
    persistent: bool = False  # an append-only file with fsync on every write (survives a kill -9)
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if not binary:
            pytest.skip("redis-server is not installed")
        persistence = ["--appendonly", "yes", "--appendfsync", "always"] if self.persistent else ["--appendonly", "no"]
        self.process = logged_popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", *persistence,
             "--dir", str(self.directory)],
            self.directory / "redis.log", dict(os.environ),
        )
        wait_for(self._answers, f"redis-server on port {self.port}", [self.directory / "redis.log"])

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process)
            self.process = None


def _postgres_bin() -> Path:
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: int(p.parts[-3]))
    if not candidates:
        pytest.skip("PostgreSQL server binaries are not installed (/usr/lib/postgresql/*/bin)")
    return candidates[-1].parent


@dataclass
class PrivatePostgres:
    """A throw-away PostgreSQL cluster (``initdb`` in a temporary folder, trust auth) on a free port.

    The server runs as the ``postgres`` user when this process is root (PostgreSQL refuses root).
    """

    port: int = field(default_factory=free_port)
    directory: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="shopsense-pg-")))

    def __post_init__(self) -> None:
        self.bin = _postgres_bin()
        self.data = self.directory / "data"
        self.log = self.directory / "server.log"
        self.user = None
        if os.geteuid() == 0:
            try:
                self.user = pwd.getpwnam("postgres")
            except KeyError:
                pytest.skip("running as root and there is no postgres user to run a private PostgreSQL")
            os.chown(self.directory, self.user.pw_uid, self.user.pw_gid)

    def url(self, name: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{name}"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        def demote() -> None:
            if self.user is not None:
                os.setgid(self.user.pw_gid)
                os.setuid(self.user.pw_uid)

        return subprocess.run([str(a) for a in args], cwd=self.directory, preexec_fn=demote, capture_output=True,
                              text=True, check=check, timeout=120)

    def init(self) -> None:
        self._run(self.bin / "initdb", "-D", self.data, "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(self.bin / "pg_ctl", "-D", self.data, "-l", self.log, "-o", options, "-w", "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run(self.bin / "pg_ctl", "-D", self.data, "-m", mode, "-w", "-t", "60", "stop", check=False)

    def create_database(self, name: str) -> None:
        self._run(self.bin / "createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name)

    def destroy(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.directory, ignore_errors=True)


def kill(pid: int) -> None:
    """SIGKILL one process we started (by its id)."""
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
