"""The admin's Events list on a large event table: time to open it, page it, filter it and search it.

    DATABASE_URL=postgres://…/scratch python bench/admin_events.py --events 1000000

PostgreSQL only. Fills the database named by DATABASE_URL (migrated first) with N events for 5,000
customers and 2,000 products when it holds fewer, then times each page through Django's test Client as a
logged-in superuser (median of 3 after one warm-up). Prints a table.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop_project.settings")


def _fill(events: int) -> None:
    from decimal import Decimal

    from django.contrib.auth import get_user_model
    from django.db import connection

    from personalization.models import Event
    from shop_project.shop.models import Category, Product

    have = Event.objects.count()
    if have >= events:
        return
    category, _ = Category.objects.get_or_create(slug="bench", defaults={"name": "Bench"})
    if Product.objects.count() < 2000:
        Product.objects.bulk_create(
            [Product(sku=f"BENCH{i:05d}", name=f"Bench product {i}", category=category, list_price=Decimal("4.95"))
             for i in range(2000)], ignore_conflicts=True)
    user_model = get_user_model()
    if user_model.objects.count() < 5000:
        user_model.objects.bulk_create(
            [user_model(username=f"bench{i:05d}") for i in range(5000)], ignore_conflicts=True)
    product_ids = list(Product.objects.values_list("pk", flat=True)[:2000])
    user_ids = list(user_model.objects.values_list("pk", flat=True)[:5000])
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {Event._meta.db_table}
                (event_type, user_id, session_key, product_id, quantity, price, query, recommendation_id,
                 source, client_event_id, timestamp, received_at)
            SELECT (ARRAY['view','view','view','cart','purchase','search','impression','click'])[1 + g %% 8],
                   CASE WHEN g %% 3 = 0 THEN NULL ELSE (%s::bigint[])[1 + g %% %s] END,
                   'visitor' || (g %% 40000),
                   (%s::bigint[])[1 + (g * 7) %% %s],
                   1, NULL,
                   CASE WHEN g %% 8 = 5 THEN 'lantern ' || (g %% 500) ELSE '' END,
                   CASE WHEN g %% 8 = 7 THEN 'rec' || (g %% 20000) ELSE '' END,
                   'web', 'bench-' || g,
                   now() - (g || ' seconds')::interval, now()
            FROM generate_series(%s, %s) AS g
            """,
            [user_ids, len(user_ids), product_ids, len(product_ids), have + 1, events],
        )
        cursor.execute(f"ANALYZE {Event._meta.db_table}")


def _timed(client, url: str) -> tuple[float, int]:
    client.get(url)
    times = []
    for _ in range(3):
        start = time.perf_counter()
        response = client.get(url)
        times.append(time.perf_counter() - start)
    return statistics.median(times), response.status_code


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000_000)
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import setup_test_environment

    if connection.vendor != "postgresql":
        raise SystemExit("PostgreSQL only (DATABASE_URL=postgres://…).")
    setup_test_environment()
    settings.ALLOWED_HOSTS = ["*"]
    call_command("migrate", verbosity=0)
    _fill(args.events)
    admin, _ = get_user_model().objects.get_or_create(username="bench-admin",
                                                       defaults={"is_staff": True, "is_superuser": True})
    client = Client()
    client.force_login(admin)
    base = "/admin/personalization/event/"
    week_ago = time.strftime("%Y-%m-%d", time.gmtime(time.time() - 6 * 86400))
    cases = [
        ("open the list", base),
        ("page 50", base + "?p=50"),
        ("filter: purchases", base + "?event_type__exact=purchase"),
        ("filter: this week", base + "?timestamp__gte=" + week_ago),
        ("search a visitor id", base + "?q=visitor1234"),
        ("search a username", base + "?q=bench00042"),
        ("search a recommendation id", base + "?q=rec777"),
        ("search a query", base + "?q=lantern+42"),
        ("search nothing found", base + "?q=no-such-thing"),
    ]
    from personalization.models import Event

    print(f"events: {Event.objects.count():,}")
    print("| page | median s | status |\n|---|---|---|")
    for label, url in cases:
        seconds, status = _timed(client, url)
        print(f"| {label} | {seconds:.3f} | {status} |")


if __name__ == "__main__":
    main()
