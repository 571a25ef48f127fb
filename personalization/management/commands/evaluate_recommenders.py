"""``manage.py evaluate_recommenders --cutoff 2011-11-09``: the offline protocol on the database's purchases.

``served`` is what the nightly retrain would serve if it ran at the cutoff: ``auto``'s choice on the purchases
before the cutoff and, for the hybrid, the settings its search chooses on them (training part only).
"""
from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from personalization.host.threads import limit_process_threads


def _cutoff(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"--cutoff must be a date such as 2011-11-09, not {value!r}.") from exc


class Command(BaseCommand):
    help = (
        "Fit the recommender configurations on the purchases before --cutoff and score them on the next --days "
        "days (personalization.ml.evaluation: NDCG@20, Recall@20, HR@10, coverage; tasks all and new)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--cutoff", required=True, help="First day of the test window (YYYY-MM-DD).")
        parser.add_argument("--days", type=int, default=30, help="Length of the test window in days (default 30).")
        parser.add_argument("--models", default="popular,simple,served",
                            help="Comma-separated configurations: popular, simple, hybrid (its defaults), served "
                                 "(what the nightly retrain serves, its search run on the training part; "
                                 "default popular,simple,served).")
        parser.add_argument("--json", dest="as_json", action="store_true", help="Print the results as JSON.")

    def handle(self, *args: Any, cutoff: str, days: int, models: str, as_json: bool = False, **options: Any) -> None:
        limit_process_threads()  # SHOPSENSE_THREADS for the whole command
        import pandas as pd

        from personalization.ml import evaluation
        from personalization.recommending import training
        from personalization.recommending.data import item_table, purchase_frame

        day = _cutoff(cutoff)
        if not 1 <= days <= 366:
            raise CommandError("--days must be between 1 and 366.")
        names = [name.strip() for name in models.split(",") if name.strip()]
        unknown = [name for name in names if name not in {"popular", "simple", "hybrid", "served"}]
        if unknown or not names:
            raise CommandError(f"Unknown configuration(s) {', '.join(unknown) or '(none)'}; "
                               "choose from popular, simple, hybrid, served.")
        frame, items = purchase_frame(), item_table()
        start = pd.Timestamp(day)
        if frame.empty or not (frame["timestamp"] < start).any():
            raise CommandError(f"No purchases before {day} to learn from.")
        table = items[["item", "name", "category", "price"]]
        split = evaluation.make_split(frame, start, window_days=days, items=table)
        if split.eval_users["all"].size == 0:
            raise CommandError(f"No customer who bought before {day} bought in the {days} days after it.")
        results: dict[str, dict[str, Any]] = {}
        for name in names:
            began = time.perf_counter()
            served = None
            if name == "served":
                served = self._served(frame[frame["timestamp"] < start], items, start)
                model = training.make_model(served["model"], served["random_state"], served["settings"])
            else:
                model = training.make_model(name, 0)
            model.fit(split.train)
            fitted = time.perf_counter() - began
            results[name] = {task: evaluation.evaluate(model, split, task) for task in ("all", "new")
                             if split.eval_users[task].size}
            results[name]["fit_seconds"] = round(fitted, 2)
            if served is not None:
                results[name]["config"] = {"model": served["model"], "reason": served["reason"],
                                           "params": model.get_params(), "search": served["search"]}
        if as_json:
            self.stdout.write(json.dumps({"cutoff": str(day), "days": days, "results": results}, indent=2))
            return
        self.stdout.write(f"Cutoff {day}, test window {days} days; {split.train.n_users:,} customers, "
                          f"{split.n_items:,} products, {len(split.train):,} training purchases.")
        self.stdout.write(f"{'model':<10} {'task':<5} {'users':>6} {'ndcg@20':>8} {'recall@20':>9} {'hr@10':>6} "
                          f"{'cov@20':>7} {'fit s':>6}")
        for name, result in results.items():
            for task in ("all", "new"):
                if task in result:
                    m = result[task]
                    self.stdout.write(f"{name:<10} {task:<5} {int(m['users']):>6} {m['ndcg@20']:>8.4f} "
                                      f"{m['recall@20']:>9.4f} {m['hr@10']:>6.4f} {m['coverage@20']:>7.4f} "
                                      f"{result['fit_seconds']:>6.1f}")
        if "served" in results:
            config = results["served"]["config"]
            self.stdout.write(f"served: {config['reason']}")
            search = config["search"]
            if search.get("trials"):
                self.stdout.write(f"served: search of {search['n_trials']} trial(s) in {search['seconds']:.0f} s, "
                                  f"best trial {search['best_trial']} ({search['objective']} "
                                  f"{search['best_value']:.4f} on the last {search['validation_days']} days before "
                                  f"the cutoff, defaults {search['default_value']:.4f}); changed: "
                                  f"{json.dumps(search['changed']) if search['changed'] else 'nothing'}")
            elif search.get("skipped"):
                self.stdout.write(f"served: no search ({search['skipped']}); the defaults")

    @staticmethod
    def _served(train: Any, items: Any, start: Any) -> dict[str, Any]:
        """What the nightly retrain would serve at ``start``, chosen on the purchases before it only."""
        from personalization.ml.hybrid import NotEnoughHistory
        from personalization.recommending import training, tuning
        from personalization.recommending.config import rec_settings

        settings = rec_settings()
        random_state = int(settings["RANDOM_STATE"])
        name, reason = training.choose_model("auto", train, settings, start)
        chosen, search = None, {}
        if name == "hybrid" and settings["SEARCH"]["ENABLED"]:
            try:
                result = tuning.search(train, items, start, settings,
                                       build=lambda config: training.make_model("hybrid", random_state, config))
                chosen, search = result.settings, result.summary
            except NotEnoughHistory as exc:
                name, reason = "simple", f"simple: the hybrid could not be fitted ({exc})"
        return {"model": name, "reason": reason, "random_state": random_state, "settings": chosen,
                "search": search}
