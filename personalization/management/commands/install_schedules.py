from __future__ import annotations

import importlib
import json
from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

from personalization.ops.schedules import ScheduleSpec


def collect_schedules() -> list[ScheduleSpec]:
    """``DEFAULT_SCHEDULES`` of every installed app that has a ``schedules`` module."""
    specs: list[ScheduleSpec] = []
    for config in apps.get_app_configs():
        try:
            module = importlib.import_module(f"{config.name}.schedules")
        except ModuleNotFoundError as exc:
            if exc.name != f"{config.name}.schedules":
                raise
            continue
        specs.extend(getattr(module, "DEFAULT_SCHEDULES", []))
    return specs


class Command(BaseCommand):
    help = "Install the ShopSense default Celery beat schedule (idempotent; keeps owners' edits unless --reset)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--reset", action="store_true", help="Overwrite schedules a shop owner has changed.")

    def handle(self, *args: Any, reset: bool = False, **options: Any) -> None:
        created = updated = kept = 0
        with transaction.atomic():
            for spec in collect_schedules():
                defaults: dict[str, Any] = {
                    "task": spec.task, "description": spec.description, "kwargs": json.dumps({})
                }
                if spec.every_seconds:
                    interval, _ = IntervalSchedule.objects.get_or_create(
                        every=spec.every_seconds, period=IntervalSchedule.SECONDS
                    )
                    defaults.update(interval=interval, crontab=None)
                elif spec.crontab:
                    parts = spec.crontab.split()
                    if len(parts) != 5:
                        raise CommandError(f"Schedule {spec.name!r} has a malformed crontab {spec.crontab!r}.")
                    keys = ("minute", "hour", "day_of_month", "month_of_year", "day_of_week")
                    crontab, _ = CrontabSchedule.objects.get_or_create(**dict(zip(keys, parts, strict=True)))
                    defaults.update(crontab=crontab, interval=None)
                else:
                    raise CommandError(f"Schedule {spec.name!r} has neither an interval nor a crontab.")
                task = PeriodicTask.objects.filter(name=spec.name).first()
                if task is None:
                    PeriodicTask.objects.create(name=spec.name, **defaults)
                    created += 1
                elif reset:
                    for field, value in defaults.items():
                        setattr(task, field, value)
                    task.save()
                    updated += 1
                else:
                    kept += 1
        self.stdout.write(f"Schedules: {created} created, {updated} reset, {kept} kept as they are.")
