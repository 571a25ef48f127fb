"""``manage.py create_api_key NAME``: create a server key for the events API and print it once."""
from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from personalization.capture import api_keys


class Command(BaseCommand):
    help = "Create an API key for the events API. The raw key is printed once and stored only as a hash."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="Who uses the key, e.g. 'mobile app backend'.")

    def handle(self, *args: Any, name: str, **options: Any) -> None:
        try:
            api_key, raw_key = api_keys.create_api_key(name)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        self.stderr.write(f"Created API key {api_key} — copy it now, it is not shown again.")
        self.stdout.write(raw_key)
