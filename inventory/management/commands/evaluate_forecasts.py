"""``manage.py evaluate_forecasts --origin 2011-11-07``: PROTOCOL §2 on the orders in the database."""

from __future__ import annotations

import datetime as dt
import json
import math
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from inventory.evaluation import evaluate
from inventory.forecasting import ForecastError
from personalization.host.threads import limit_process_threads


class Command(BaseCommand):
    help = "Score the statsforecast anchors and the served forecaster (as 'served') at one origin (PROTOCOL §2)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--origin", required=True, help="A Monday, YYYY-MM-DD (e.g. 2011-11-07).")
        parser.add_argument("--horizon", type=int, default=4, help="Weeks to forecast (default 4).")
        parser.add_argument("--json", action="store_true", help="Print the results as JSON.")

    def handle(self, *args: Any, **options: Any) -> None:
        limit_process_threads()  # SHOPSENSE_THREADS for the whole command
        try:
            origin = dt.date.fromisoformat(options["origin"])
        except ValueError as exc:
            raise CommandError(f"--origin must be YYYY-MM-DD, not {options['origin']!r}.") from exc
        if not 1 <= options["horizon"] <= 52:
            raise CommandError("--horizon must lie between 1 and 52 weeks.")
        try:
            result = evaluate(origin, options["horizon"])
        except (ForecastError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        if options["json"]:
            clean = json.loads(json.dumps(result, default=str).replace("NaN", "null"))
            self.stdout.write(json.dumps(clean, indent=2))
            return
        self.stdout.write(
            f"Origin {result['origin']}, horizon {result['horizon']} weeks, {result['n_series']} series; "
            f"served = {result['served_configuration']}"
        )
        keys = ("wape", "mase", "bias", "pinball_q50", "pinball_q90", "coverage_q90")
        self.stdout.write(f"{'model':<16} " + " ".join(f"{k:>12}" for k in keys))
        for name, m in result["models"].items():
            cells = " ".join(f"{m[k]:>12.4f}" if k in m and not math.isnan(m[k]) else f"{'—':>12}" for k in keys)
            self.stdout.write(f"{name:<16} {cells}")
        self.stdout.write(f"seconds: {result['seconds']}")
