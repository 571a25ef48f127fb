"""``import_online_retail --end-yesterday`` / ``--shift-to``: the history moved by whole weeks, stored, shown."""

from __future__ import annotations

import datetime as dt
from io import StringIO
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone

from personalization.models import Event
from shop_project.shop import data_shift
from shop_project.shop.models import DataShift, Order, OrderLine

from .conftest import UserFactory

pytestmark = pytest.mark.django_db

SLICE = Path(__file__).resolve().parents[1] / "data" / "online_retail_slice.csv.gz"
LONDON = ZoneInfo("Europe/London")
FILE_LAST = dt.date(2011, 12, 9)  # a Friday: the slice's (and the file's) last day
FILE_FIRST = dt.date(2010, 12, 2)  # the slice's first imported sale


def run(*args: str) -> str:
    out = StringIO()
    call_command("import_online_retail", str(SLICE), *args, "--no-progress", stdout=out, stderr=StringIO())
    return out.getvalue()


def local_days() -> list[dt.date]:
    return sorted({timezone.localtime(at, LONDON).date() for at in Order.objects.values_list("placed_at", flat=True)})


def test_days_to_end_by_keeps_the_weekday_and_never_passes_the_target():
    for target in (dt.date(2026, 12, 2) + dt.timedelta(days=n) for n in range(14)):
        days = data_shift.days_to_end_by(FILE_LAST, target)
        moved = FILE_LAST + dt.timedelta(days=days)
        assert days % 7 == 0
        assert moved.weekday() == FILE_LAST.weekday()
        assert 0 <= (target - moved).days < 7


def test_shift_to_moves_every_timestamp_by_whole_weeks_and_records_it():
    # given the slice's file times
    raw = pd.read_csv(SLICE, dtype=str, keep_default_na=False)
    # when the slice is imported shifted to end by Wednesday 2 December 2026
    output = run("--shift-to", "2026-12-02")
    # then the last day is the Friday before, and every date moved by the same whole number of weeks
    days = (dt.date(2026, 11, 27) - FILE_LAST).days
    assert days % 7 == 0
    assert f"dates shifted by {days:+,} days" in output
    shop_days = local_days()
    assert (shop_days[0], shop_days[-1]) == (FILE_FIRST + dt.timedelta(days=days), dt.date(2026, 11, 27))
    order = Order.objects.order_by("number").first()
    file_time = dt.datetime.fromisoformat(raw.loc[raw["InvoiceNo"] == order.number, "InvoiceDate"].iloc[0])
    assert timezone.localtime(order.placed_at, LONDON).replace(tzinfo=None) == file_time + dt.timedelta(days=days)
    line = OrderLine.objects.filter(order=order).first()
    assert Event.objects.get(client_event_id__endswith=f":{line.pk}").timestamp == order.placed_at
    assert order.customer is None or order.customer.date_joined.year >= 2025
    assert min(order.lines.values_list("product__created_at", flat=True)).year >= 2025
    shift = DataShift.objects.get()
    assert (shift.days, shift.original_first, shift.original_last) == (days, FILE_FIRST, FILE_LAST)
    assert (shift.shifted_first, shift.shifted_last) == (shop_days[0], shop_days[-1])
    assert shift.source == SLICE.name


def test_end_yesterday_ends_on_the_latest_same_weekday_before_today():
    # when
    run("--end-yesterday")
    # then
    last = local_days()[-1]
    yesterday = timezone.localdate() - dt.timedelta(days=1)
    assert last.weekday() == FILE_LAST.weekday()
    assert 0 <= (yesterday - last).days < 7
    assert DataShift.objects.get().shifted_last == last


def test_no_option_keeps_the_file_dates_and_records_a_zero_shift():
    run()
    assert local_days()[-1] == FILE_LAST
    assert DataShift.objects.get().days == 0


def test_the_same_shift_again_changes_nothing():
    # given
    run("--shift-to", "2026-12-02")
    counts = (Order.objects.count(), OrderLine.objects.count(), Event.objects.count())
    # when the same shift is asked for with another date of the same week
    output = run("--shift-to", "2026-12-03")
    # then
    assert (Order.objects.count(), OrderLine.objects.count(), Event.objects.count()) == counts
    assert "created: 0 categories, 0 products, 0 customers, 0 orders, 0 lines, 0 events" in output


def test_adjacent_windows_with_the_same_shift_add_up():
    run("--shift-to", "2026-12-02", "--until", "2011-06-30")
    run("--shift-to", "2026-12-02", "--since", "2011-07-01")
    shift = DataShift.objects.get()
    assert (shift.original_first, shift.original_last) == (FILE_FIRST, FILE_LAST)
    assert local_days()[-1] == dt.date(2026, 11, 27)


@pytest.mark.parametrize(
    ("first", "second", "message"),
    [
        (("--shift-to", "2026-12-02"), ("--shift-to", "2026-12-20"), "already holds imported data with a shift of"),
        (("--shift-to", "2026-12-02"), (), "Pass --shift-to 2026-11-27 to keep the stored shift"),
        ((), ("--end-yesterday",), "already holds imported data with its own dates"),
    ],
    ids=["other-shift", "no-shift-after-shift", "shift-after-plain-import"],
)
def test_another_shift_on_an_imported_database_is_a_command_error_and_writes_nothing(first, second, message):
    # given
    run(*first)
    stored = DataShift.objects.values_list("days", "original_first", "original_last", "updated_at")
    before = (Order.objects.count(), list(stored))
    # when / then
    with pytest.raises(CommandError, match=message):
        run(*second)
    assert (Order.objects.count(), list(stored)) == before


def test_a_database_imported_before_the_record_counts_as_unshifted():
    # given an import from before the shift was recorded
    run()
    DataShift.objects.all().delete()
    # when / then
    with pytest.raises(CommandError, match="its own dates"):
        run("--end-yesterday")
    run()  # the same (no) shift again is fine
    assert DataShift.objects.get().days == 0


def test_bad_shift_date_is_a_command_error():
    with pytest.raises(CommandError, match="--shift-to must be a date written YYYY-MM-DD"):
        run("--shift-to", "yesterday")
    assert not Order.objects.exists()


def test_the_admin_shows_the_shift():
    # given
    run("--shift-to", "2026-12-02")
    staff = UserFactory(username="owner", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(staff)
    # when
    page = client.get("/admin/shop/datashift/").content.decode()
    # then
    days = (dt.date(2026, 11, 27) - FILE_LAST).days
    assert data_shift.describe() in page.replace("&#x27;", "'")
    assert f"{days:+,} days" in page
    assert "2010-12-02 – 2011-12-09" in page and "27 Nov 2026" in page
    assert client.get("/admin/shop/datashift/add/").status_code == 403
