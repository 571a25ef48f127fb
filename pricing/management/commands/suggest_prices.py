"""``manage.py suggest_prices``: refit the price elasticities and suggest prices by policy."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser


class Command(BaseCommand):
    help = "Refit price elasticities from the order history and suggest prices (auto-applying where a policy says so)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--no-refit", action="store_true", help="Use the active elasticity model instead of refitting."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        from pricing import services

        try:
            run = services.refit_and_suggest(refit=not options["no_refit"])
        except services.JobAlreadyRunning as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"{len(run.created)} suggestions, {len(run.applied)} auto-applied, {len(run.blocked)} blocked, "
            f"{run.unchanged} unchanged, {run.without_policy} products without a policy."
        )
