"""``manage.py import_online_retail [PATH]``: load the UCI Online Retail transactions into the demo shop."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from shop_project.shop import import_reading, importing


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
            help=f"CSV or CSV.gz file (default: {importing.DEFAULT_PATH} in the project).",
        )
        parser.add_argument("--limit", type=int, default=None, help="Read only the first N data rows of the file.")
        parser.add_argument("--since", default=None, help="Import only rows with InvoiceDate on or after YYYY-MM-DD.")
        parser.add_argument("--until", default=None, help="Import only rows with InvoiceDate on or before YYYY-MM-DD.")
        parser.add_argument("--no-progress", action="store_true", help="Do not show the progress bar.")

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["path"]) if options["path"] else Path(settings.BASE_DIR) / importing.DEFAULT_PATH
        try:
            summary = importing.import_online_retail(
                path,
                limit=options["limit"],
                since=import_reading.parse_day(options["since"], "--since"),
                until=import_reading.parse_day(options["until"], "--until"),
                show_progress=not options["no_progress"],
            )
        except importing.ImportDataError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(summary.render())
