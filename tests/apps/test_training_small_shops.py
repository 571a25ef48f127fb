"""``auto`` trains what the data supports: real order lines of small shops, and odd shops (one customer,
one product, no purchases at all). Never a traceback, never a failed version; the choice and its reason
are said by the command, stored on the version and logged by the nightly task."""
from __future__ import annotations

import logging
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pandas as pd
import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from personalization.models import Event, ModelVersion
from personalization.recommending import serving
from personalization.recommending.config import KIND
from personalization.tasks import retrain_recommenders
from tests.testhost.models import Department, Item

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]
SLICE = ROOT / "tests" / "data" / "online_retail_slice.csv.gz"  # 2,000 rows over all 13 months
FULL = ROOT / "data" / "online_retail_ii.csv.gz"  # the whole two-year file, in its own (date) order
ONE_YEAR_HEADER = {"Invoice": "InvoiceNo", "Price": "UnitPrice", "Customer ID": "CustomerID"}


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    serving._TABLES.clear()


def order_lines(path: Path, n: int) -> pd.DataFrame:
    """The first ``n`` order lines of signed-in customers (positive quantity and price) in file order."""
    raw = pd.read_csv(path, dtype=str, keep_default_na=False).rename(columns=ONE_YEAR_HEADER)
    raw = raw[(raw["CustomerID"] != "") & ~raw["InvoiceNo"].str.startswith("C")]
    raw = raw[(raw["Quantity"].astype(int) > 0) & (raw["UnitPrice"].astype(float) > 0)]
    lines = raw.head(n)
    assert len(lines) == n
    return lines


def load(lines: pd.DataFrame) -> None:
    """The order lines as the testhost's catalogue, customers and purchase events."""
    department = Department.objects.create(title="Gifts")
    codes = sorted(lines["StockCode"].str.upper().unique())
    items = Item.objects.bulk_create(Item(code=code, title=f"Product {code}", department=department,
                                          price=Decimal("1.00"), stock=10) for code in codes)
    by_code = {item.code: item.pk for item in items}
    User = get_user_model()
    users = User.objects.bulk_create(User(username=f"c{cid}") for cid in sorted(lines["CustomerID"].unique()))
    by_customer = {user.username[1:]: user.pk for user in users}
    when = pd.to_datetime(lines["InvoiceDate"]).dt.tz_localize("UTC")
    Event.objects.bulk_create(
        (Event(event_type="purchase", user_id=by_customer[cid], product_id=by_code[code.upper()], quantity=int(qty),
               price=Decimal(price).quantize(Decimal("0.01")), source="import", client_event_id=f"line:{n}",
               timestamp=ts.to_pydatetime())
         for n, (cid, code, qty, price, ts) in enumerate(zip(lines["CustomerID"], lines["StockCode"],
                                                             lines["Quantity"], lines["UnitPrice"], when,
                                                             strict=True))),
        batch_size=5000,
    )


def train_command(*args: str) -> str:
    out = StringIO()
    call_command("train_recommenders", "--no-progress", *args, stdout=out)
    return out.getvalue()


@pytest.mark.parametrize(("path", "lines", "expected"), [
    (SLICE, 1_000, "hybrid"),   # 13 months: some customers buy again within the label windows
    (FULL, 10_000, "simple"),   # the shop's first days: no label window has a returning customer
    (FULL, 30_000, "simple"),   # its first two weeks; the case that failed with "no purchases in the label window(s)"
], ids=["slice-1k", "first-10k", "first-30k"])
def test_auto_trains_what_real_order_lines_support(path, lines, expected, settings):
    load(order_lines(path, lines))
    last = Event.objects.order_by("-timestamp").values_list("timestamp", flat=True).first()
    settings.PERSONALIZATION = {**settings.PERSONALIZATION, "REFERENCE_TIME": last.isoformat()}  # the data's as-of

    output = train_command()

    version = ModelVersion.objects.get(kind=KIND)
    assert version.status == ModelVersion.Status.ACTIVE
    assert version.params["model"] == expected
    assert output.startswith(f"Trained {expected}: ") and version.params["reason"] in output
    assert "Activated." in output


def _shop(customers: int, products: int, purchases_each: int = 3) -> None:
    department = Department.objects.create(title="Only")
    first = Item.objects.count()
    items = [Item.objects.create(code=f"P{first + n}", title=f"Product {n}", department=department,
                                 price=Decimal("2.00"))
             for n in range(products)]
    User = get_user_model()
    start = pd.Timestamp("2026-01-05", tz="UTC")
    events = []
    for c in range(customers):
        user = User.objects.create_user(f"only{c}")
        for p in range(purchases_each):
            events.append(Event(event_type="purchase", user=user, product=items[(c + p) % products], quantity=1,
                                source="import", client_event_id=f"only:{c}:{p}",
                                timestamp=(start + pd.Timedelta(days=20 * p + c)).to_pydatetime()))
    Event.objects.bulk_create(events)


@pytest.mark.parametrize(("customers", "products"), [(1, 5), (6, 1), (1, 1)],
                         ids=["one-customer", "one-product", "one-of-each"])
def test_auto_trains_popularity_for_one_customer_or_one_product(customers, products):
    _shop(customers, products)

    output = train_command()

    version = ModelVersion.objects.get(kind=KIND)
    assert version.params["model"] == "popular" and version.status == ModelVersion.Status.ACTIVE
    assert output.startswith("Trained popular: ") and "too few to learn neighbours from" in output


def test_a_shop_with_no_purchases_gets_a_clear_refusal_and_no_version():
    _shop(customers=0, products=1)

    with pytest.raises(CommandError, match="No purchases of signed-in customers"):
        train_command()

    assert not ModelVersion.objects.exists()


def test_the_nightly_task_logs_its_choice_and_skips_a_shop_without_purchases(caplog):
    _shop(customers=0, products=1)
    with caplog.at_level(logging.INFO):
        skipped = retrain_recommenders()  # as a worker runs it
    _shop(customers=1, products=2)
    with caplog.at_level(logging.INFO):
        trained = retrain_recommenders()

    assert skipped is None
    assert "Recommender training skipped: No purchases of signed-in customers" in caplog.text
    assert ModelVersion.objects.get(pk=trained).params["model"] == "popular"
    assert "Recommender training: Trained popular: " in caplog.text


@pytest.mark.parametrize("model", ["hybrid"])
def test_asking_for_the_hybrid_on_data_it_cannot_learn_from_is_a_clear_error(model):
    load(order_lines(FULL, 1_000))

    with pytest.raises(CommandError, match="cannot learn from these purchases"):
        train_command("--model", model)

    assert ModelVersion.objects.get(kind=KIND).status == ModelVersion.Status.FAILED


def test_when_the_hybrid_still_cannot_be_fitted_auto_falls_back_to_the_simple_blend(monkeypatch):
    from personalization.recommending import training

    load(order_lines(FULL, 10_000))
    monkeypatch.setattr(training, "_label_windows_hold_purchases", lambda *args: True)  # the check misjudges

    output = train_command()

    version = ModelVersion.objects.get(kind=KIND)
    assert (version.params["model"], version.status) == ("simple", ModelVersion.Status.ACTIVE)
    assert "Trained simple: the hybrid could not be fitted (no purchases in the label window(s)" in output
