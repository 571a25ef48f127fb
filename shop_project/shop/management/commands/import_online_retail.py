"""``manage.py import_online_retail [PATH]``: load the UCI Online Retail transactions into the demo shop."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from shop_project.shop import data_shift, import_reading, importing


class Command(BaseCommand):
    help = (
        "Import the UCI Online Retail (or Online Retail II) CSV, plain or gzipped, into the demo shop: "
        "categories, products, customers, orders, order lines and purchase events. Safe to run again."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "path",
            nargs="?",
            default=None,
            help=f"CSV or CSV.gz file (default: {importing.DEFAULT_PATH} in the project, the two-year data).",
        )
        parser.add_argument("--limit", type=int, default=None, help="Read only the first N data rows of the file.")
        parser.add_argument(
            "--since", default=None, help="Import only rows with InvoiceDate on or after YYYY-MM-DD (the file's dates)."
        )
        parser.add_argument(
            "--until", default=None, help="Import only rows with InvoiceDate up to YYYY-MM-DD (the file's dates)."
        )
        shift = parser.add_mutually_exclusive_group()
        shift.add_argument(
            "--end-yesterday",
            action="store_true",
            help="Shift every date by whole weeks so the data's last day is yesterday (or the latest same weekday "
            "before it); the shift is stored and shown in the admin. bin/demo uses it.",
        )
        shift.add_argument(
            "--shift-to",
            default=None,
            metavar="YYYY-MM-DD",
            help="Like --end-yesterday, with the data's last day moved to this date (or the latest same weekday "
            "before it).",
        )
        parser.add_argument("--no-progress", action="store_true", help="Do not show the progress bar.")

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["path"]) if options["path"] else Path(settings.BASE_DIR) / importing.DEFAULT_PATH
        try:
            shift_to = import_reading.parse_day(options["shift_to"], "--shift-to")
            if options["end_yesterday"]:
                shift_to = data_shift.yesterday()
            summary = importing.import_online_retail(
                path,
                limit=options["limit"],
                since=import_reading.parse_day(options["since"], "--since"),
                until=import_reading.parse_day(options["until"], "--until"),
                shift_to=shift_to,
                show_progress=not options["no_progress"],
            )
        except importing.ImportDataError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(summary.render())
