"""``manage.py suggest_prices``: refit the price elasticities and suggest prices by policy."""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from personalization.host.threads import limit_process_threads
from personalization.ops.progress import command_progress


class Command(BaseCommand):
    help = "Refit price elasticities from the order history and suggest prices (auto-applying where a policy says so)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--no-refit", action="store_true", help="Use the active elasticity model instead of refitting."
        )
        parser.add_argument("--no-progress", action="store_true", help="Print no progress bar (for cron logs).")
        parser.add_argument(
            "--default-policy",
            action="store_true",
            help="First create a shop-wide policy when there is none: suggest only, margin ≥ 10 %%, "
            "steps ≤ 10 %%, prices ending in .99 below 100 and whole above (used by bin/demo).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        limit_process_threads()  # SHOPSENSE_THREADS for the whole command
        from pricing import services
        from pricing.models import PricingPolicy

        if options["default_policy"]:
            _, created = PricingPolicy.objects.get_or_create(
                scope=PricingPolicy.Scope.SHOP,
                defaults={
                    "name": "Shop-wide default",
                    "min_margin": Decimal("0.10"),
                    "max_change": Decimal("0.10"),
                    "price_endings": ".99 < 100; whole",
                    "strategy": PricingPolicy.Strategy.OPTIMISE,
                    "mode": PricingPolicy.Mode.SUGGEST,
                },
            )
            if created:
                self.stdout.write("Created the shop-wide default policy (suggest only).")
        try:
            with command_progress(self, enabled=not options["no_progress"]) as progress:
                run = services.refit_and_suggest(refit=not options["no_refit"], progress=progress)
        except services.JobAlreadyRunning as exc:
            raise CommandError(str(exc)) from exc
        if run.refused:
            self.stdout.write(f"The refit did not go live, suggestions left as they are: {run.refused}")
        self.stdout.write(
            f"{len(run.created)} suggestions, {len(run.applied)} auto-applied, {len(run.blocked)} blocked, "
            f"{run.unchanged} unchanged, {run.without_policy} products without a policy"
            + (f", {run.implausible} held (expected figures out of range: see the log)." if run.implausible else ".")
        )
