"""``manage.py build_profiles``: rebuild every customer profile and the segments now (or queue it)."""

from __future__ import annotations

import datetime as dt
import sys
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Count
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from personalization.host.threads import limit_process_threads
from personalization.models import CustomerProfile, RFMSegment, Segment
from personalization.ops.progress import command_progress


def _parse_as_of(value: str) -> dt.datetime:
    moment = parse_datetime(value)
    if moment is None:
        day = parse_date(value)
        if day is None:
            raise CommandError(
                f"--as-of must be a date or a date-time such as 2011-12-10 or 2011-12-10T00:00, not {value!r}."
            )
        moment = dt.datetime.combine(day, dt.time.min)
    return timezone.make_aware(moment) if timezone.is_naive(moment) else moment


class Command(BaseCommand):
    help = (
        "Rebuild every customer's profile (RFM, lifetime value, category affinity, price sensitivity) "
        "and the K-means segments from all orders, showing progress and a summary."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--as-of",
            dest="as_of",
            help="Reference time of recency and customer age (default: now, or the REFERENCE_TIME set; README).",
        )
        parser.add_argument(
            "--enqueue", action="store_true", help="Queue the rebuild for a Celery worker instead of running it here."
        )
        parser.add_argument("--no-progress", action="store_true", help="Print no progress bar (for cron logs).")

    def handle(
        self, *args: Any, as_of: str | None = None, enqueue: bool = False, no_progress: bool = False, **options: Any
    ) -> None:
        limit_process_threads()  # SHOPSENSE_THREADS for the whole command
        from personalization.profiles import services as profiles

        as_of_time = _parse_as_of(as_of) if as_of else None
        if enqueue:
            if as_of_time is not None:
                raise CommandError("--as-of cannot be combined with --enqueue.")
            build = profiles.request_build(trigger="command")
            self.stdout.write(f"Queued profile build {build.pk}; follow it in the admin (Profile builds).")
            return

        started = time.perf_counter()
        try:
            with command_progress(self, enabled=not no_progress) as progress:
                build = profiles.run_build(trigger="command", as_of=as_of_time, progress=progress)
        except profiles.BuildAlreadyRunning as exc:
            raise CommandError(str(exc)) from exc
        except Exception as exc:
            raise CommandError(f"The profile build failed: {type(exc).__name__}: {exc}") from exc
        elapsed = time.perf_counter() - started
        if build.message.startswith("Refused:"):  # the current profiles stay: a warning, not a failure
            kept = f"Profile build {build.pk} kept the current profiles: {build.message}"
            self.stdout.write(self.style.WARNING(kept))
            return
        self._summary(build, elapsed)

    def _summary(self, build: Any, elapsed: float) -> None:
        write = self.stdout.write
        write(
            self.style.SUCCESS(
                f"Profile build {build.pk}: {build.customers:,} customers from {build.lines:,} order lines "
                f"in {elapsed:.1f} s."
            )
        )
        if build.message:
            write(build.message)
        if build.as_of:
            write(f"Reference time: {build.as_of:%Y-%m-%d %H:%M} UTC")
        if not build.customers:
            write("No customer has a purchase yet: nothing to profile.")
            return
        counts = dict(
            CustomerProfile.objects.filter(build=build)
            .values("rfm_segment")
            .order_by()
            .annotate(n=Count("id"))
            .values_list("rfm_segment", "n")
        )
        write("RFM segments:")
        for code, label in RFMSegment.choices:
            if counts.get(code):
                write(f"  {label:<20} {counts[code]:>8,}")
        silhouette = f", silhouette {build.silhouette:.3f}" if build.silhouette is not None else ""
        write(f"Clusters: k = {build.k}{silhouette}")
        for segment in Segment.objects.filter(build=build).order_by("cluster_id"):
            write(f"  {segment.cluster_id:>3}  {segment.size:>8,}  ({segment.share:6.1%})  {segment.label}")
        bgnbd = build.clv_params.get("bgnbd")
        if bgnbd:
            gamma = build.clv_params.get("gamma_gamma", {})
            write(
                "CLV models: BG/NBD "
                + ", ".join(f"{name}={value:.4g}" for name, value in bgnbd.items())
                + "; Gamma-Gamma "
                + ", ".join(f"{name}={value:.4g}" for name, value in gamma.items())
            )
        elif build.clv_params.get("skipped"):
            write(f"CLV models: {build.clv_params['skipped']}")
        sys.stdout.flush()
