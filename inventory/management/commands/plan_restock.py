"""``manage.py plan_restock``: forecast demand from the shop's orders and refresh restock suggestions."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from inventory import services
from personalization.host.threads import limit_process_threads
from personalization.ops.progress import command_progress


class Command(BaseCommand):
    help = "Forecast weekly demand per product (the served forecaster) and refresh the restock suggestions."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--no-forecast", action="store_true", help="Plan from the stored forecasts only.")
        parser.add_argument(
            "--forecaster", help='Override INVENTORY["FORECASTER"]: "selector", "gbm" or a statsforecast method.'
        )
        parser.add_argument(
            "--date", help="Plan as of this day (YYYY-MM-DD); default: today, or the REFERENCE_TIME set (README)."
        )
        parser.add_argument("--no-progress", action="store_true", help="Print no progress bar (for cron logs).")

    def handle(self, *args: Any, **options: Any) -> None:
        limit_process_threads()  # SHOPSENSE_THREADS for the whole command
        today = None
        if options["date"]:
            try:
                today = dt.date.fromisoformat(options["date"])
            except ValueError as exc:
                raise CommandError(f"--date must be YYYY-MM-DD, not {options['date']!r}.") from exc
        try:
            with command_progress(self, enabled=not options["no_progress"]) as progress:
                run = services.run_planning(
                    forecast=not options["no_forecast"], today=today, forecaster=options["forecaster"],
                    progress=progress,
                )
        except (services.ForecastError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        if run.forecast is not None:
            f = run.forecast
            if f.stale_weeks:
                self.stderr.write(self.style.WARNING(
                    f"The order history ends {f.stale_weeks} weeks before {f.origin} (no order since the week before "
                    f"{f.history_end}): forecast from the history up to {f.history_end} as if it reached {f.origin}. "
                    "Import the newer orders, or plan as of an earlier day with --date."
                ))
            self.stdout.write(
                f"Forecast from {f.origin}: {f.n_products} products ({f.n_modelled} by the model), "
                f"version {f.version.pk}, {f.seconds:.1f} s"
            )
        p = run.plan
        self.stdout.write(
            self.style.SUCCESS(
                f"Planned {p.products} products as of {p.today}: {p.created} new, {p.updated} updated, "
                f"{p.removed} resolved suggestions; {p.suggested_units} units suggested."
            )
        )
