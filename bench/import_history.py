"""Time ``manage.py import_history`` on the demo host: a first run into an empty event log, then a second run.

Usage (a demo database filled by ``import_online_retail``; the purchase events that importer wrote are
deleted first, so the first run writes them all again through the adapter):

    DJANGO_SETTINGS_MODULE=shop_project.settings DATABASE_URL=postgres://.../DB python bench/import_history.py

Prints the command's summaries, the wall-clock time of each run and the events stored after each.
"""
from __future__ import annotations

import os
import platform
import sys
import time
from io import StringIO
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop_project.settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402

from personalization.models import Event, EventType  # noqa: E402


def main() -> None:
    purchases = Event.objects.filter(event_type=EventType.PURCHASE)
    started = time.perf_counter()
    deleted, _ = purchases.delete()
    print(f"reset: deleted {deleted:,} purchase events in {time.perf_counter() - started:.1f} s")
    print(f"machine: {os.cpu_count()} cores, CPython {platform.python_version()}, load {os.getloadavg()[0]:.1f}")
    for run in ("first", "second"):
        out = StringIO()
        started = time.perf_counter()
        call_command("import_history", "--no-progress", stdout=out)
        elapsed = time.perf_counter() - started
        print(f"--- {run} run: {elapsed:.1f} s wall, {purchases.count():,} purchase events stored, "
              f"load {os.getloadavg()[0]:.1f}")
        print(out.getvalue().rstrip())


if __name__ == "__main__":
    main()
