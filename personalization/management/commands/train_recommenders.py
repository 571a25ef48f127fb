"""``manage.py train_recommenders``: fit, validate, store and (if better) activate the recommender now."""
from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from personalization.host.threads import limit_process_threads
from personalization.ops.progress import command_progress


class Command(BaseCommand):
    help = (
        "Train the recommender on the purchases in the database, validate it on the last days, store it as a "
        "model version, precompute every customer's lists and activate it if it beats the active version."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--model", choices=("auto", "hybrid", "simple", "popular"),
                            help="Which configuration to train (default: the RECOMMENDATIONS setting, 'auto').")
        parser.add_argument("--no-activate", action="store_true", help="Store the version as ready; do not activate.")
        parser.add_argument("--enqueue", action="store_true", help="Queue the run for a Celery worker instead.")
        parser.add_argument("--no-progress", action="store_true", help="Print no progress bar (for cron logs).")

    def handle(self, *args: Any, model: str | None = None, no_activate: bool = False, enqueue: bool = False,
               no_progress: bool = False, **options: Any) -> None:
        limit_process_threads()  # SHOPSENSE_THREADS for the whole command
        from personalization.recommending import training

        if enqueue:
            from django.db import transaction

            from personalization.tasks import retrain_recommenders

            transaction.on_commit(lambda: retrain_recommenders.delay(model))
            self.stdout.write("Queued a recommender training run; follow it in the admin (Model versions).")
            return

        try:
            with command_progress(self, enabled=not no_progress) as progress:
                result = training.train(model, activate=not no_activate, progress=progress)
        except training.TrainingError as exc:
            raise CommandError(str(exc)) from exc
        metrics = ", ".join(f"{k}={v:.4f}" for k, v in sorted(result.metrics.items()))
        self.stdout.write(f"{result.message}\nMetrics: {metrics}\nLists written: {result.lists:,}; "
                          f"{result.seconds:.1f} s.")
        if result.pending:  # LIST_SHARDS > 1 with a broker: the ml workers write the lists, then activate
            self.stdout.write("Activation follows once the ml workers have written every list shard; follow it in "
                              "the admin (Model versions).")
            return
        style = self.style.SUCCESS if result.activated else self.style.WARNING
        self.stdout.write(style("Activated." if result.activated else "Not activated."))
