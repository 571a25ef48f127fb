"""``manage.py import_history``: purchase events for the shop's past orders, then one profile rebuild."""
from __future__ import annotations

import datetime as dt
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from tqdm import tqdm


def parse_since(value: str) -> dt.datetime:
    """A date (midnight, current time zone) or an ISO date-time; :class:`CommandError` otherwise."""
    try:
        moment = parse_datetime(value)
        day = None if moment is not None else parse_date(value)
    except ValueError:  # well formed but impossible, e.g. 2011-02-30
        moment = day = None
    if moment is None:
        if day is None:
            raise CommandError(f"--since must be a date or a date-time such as 2011-12-01 or 2011-12-01T08:00, "
                               f"not {value!r}.")
        moment = dt.datetime.combine(day, dt.time.min)
    return timezone.make_aware(moment) if timezone.is_naive(moment) else moment


class Command(BaseCommand):
    help = (
        "Write a purchase event for every past order line of the shop (read through the shop adapter), "
        "skipping lines already captured, then rebuild the customer profiles once. Safe to run again."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--since", help="Only orders placed on or after this date (YYYY-MM-DD) or date-time.")
        parser.add_argument("--no-progress", action="store_true", help="Print no progress bar (for cron logs).")

    def handle(self, *args: Any, since: str | None = None, no_progress: bool = False, **options: Any) -> None:
        from personalization.capture import history

        since_time = parse_since(since) if since else None
        with tqdm(unit="line", desc="Order lines", file=sys.stderr, disable=no_progress, mininterval=0.5) as bar:
            result = history.import_history(since_time, progress=bar.update)
        write = self.stdout.write
        write(self.style.SUCCESS(
            f"Read {result.lines_read:,} order lines: {result.events_written:,} purchase events written, "
            f"{result.already_there:,} already there, in {result.seconds:.1f} s."
        ))
        for reason, count in sorted(result.skipped.items()):
            write(f"  skipped, {reason}: {count:,}")
        if result.profiles_error:
            raise CommandError(f"The events are stored, but the profile rebuild failed: {result.profiles_error} "
                               "Run manage.py build_profiles.")
        if result.profile_build is not None:
            build = result.profile_build
            write(f"Profiles rebuilt: {build.customers:,} customers (build {build.pk}, "
                  f"{build.duration_seconds or 0:.1f} s).")
        else:
            write("Profiles not rebuilt: no new purchase.")
