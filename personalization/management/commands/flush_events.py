"""``manage.py flush_events``: move the events buffered in Redis into the database now."""
from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from personalization.capture import buffer
from personalization.capture import services as capture
from personalization.ops import redis_conn


class Command(BaseCommand):
    help = "Flush the Redis event buffer into the database now and print how many events were stored."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--max", type=int, default=None, dest="max_events", help="Stop after this many events.")

    def handle(self, *args: Any, max_events: int | None = None, **options: Any) -> None:
        if max_events is not None and max_events < 1:
            raise CommandError("--max must be at least 1.")
        if not redis_conn.is_configured():
            self.stdout.write("No Redis buffer (REDIS_URL is not set): events are stored directly; nothing to flush.")
            return
        if buffer.is_flushing():
            waiting = buffer.length()
            self.stdout.write(f"Another flush is running (the lock is held); {waiting} events wait in the buffer.")
            return
        flushed = capture.flush_buffer(max_events=max_events)
        self.stdout.write(f"Flushed {flushed} events; {buffer.length()} left in the buffer.")
        set_aside = buffer.dead_letter_count()
        if set_aside:
            self.stdout.write(
                f"{set_aside} buffered items could not be stored and wait in the Redis list {buffer.dead_letter_key()} "
                "(each with its reason; see docs/operations.md)."
            )
