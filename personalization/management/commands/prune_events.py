"""``manage.py prune_events --before YYYY-MM``: retention of the events table."""
from __future__ import annotations

import datetime as dt
import re
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from personalization.capture import partitions


class Command(BaseCommand):
    help = (
        "Remove every event dated before the first day of a month (UTC): on PostgreSQL's partitioned table whole "
        "monthly partitions are dropped, elsewhere rows are deleted. The events' client ids are forgotten too, "
        "so a client that sends such an old event again has it stored again."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--before", required=True, metavar="YYYY-MM",
                            help="Keep this month and later; remove everything older.")
        parser.add_argument("--dry-run", action="store_true", help="Only say what would be removed.")

    def handle(self, *args: Any, before: str, dry_run: bool = False, **options: Any) -> None:
        match = re.fullmatch(r"(\d{4})-(\d{2})", before.strip())
        if not match or not 1 <= int(match[2]) <= 12:
            raise CommandError(f"--before must be a month written YYYY-MM, not {before!r}.")
        month = dt.date(int(match[1]), int(match[2]), 1)
        this_month = dt.datetime.now(dt.UTC).date().replace(day=1)
        if month > this_month:
            raise CommandError(f"--before {before} lies after the current month ({this_month:%Y-%m}): "
                               "that would remove recent events.")
        pruned = partitions.prune_before(month, dry_run=dry_run)
        verb = "Would drop" if dry_run else "Dropped"
        if pruned.partitions_dropped:
            self.stdout.write(f"{verb} {len(pruned.partitions_dropped)} monthly partitions: "
                              f"{', '.join(pruned.partitions_dropped)}.")
        verb = "Would delete" if dry_run else "Deleted"
        self.stdout.write(f"{verb} {pruned.rows_deleted} events one by one and forget {pruned.ids_forgotten} "
                          f"client ids dated before {month:%Y-%m}.")
