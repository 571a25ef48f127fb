"""The Online Retail importer (``manage.py import_online_retail``), on a committed slice of the real file.

Expected figures are computed independently with pandas from the slice, following SOURCE.md's rules.
"""

from __future__ import annotations

import datetime as dt
import gzip
import math
from collections import Counter
from decimal import ROUND_HALF_UP, Decimal
from io import StringIO
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import F, Sum
from django.utils.text import slugify

from personalization.models import Event
from shop_project.shop import importing
from shop_project.shop.models import Category, Order, OrderLine, Product

pytestmark = pytest.mark.django_db

SLICE = Path(__file__).resolve().parents[1] / "data" / "online_retail_slice.csv.gz"
LONDON = ZoneInfo("Europe/London")
II_HEADER = {"InvoiceNo": "Invoice", "UnitPrice": "Price", "CustomerID": "Customer ID"}


def read_slice(path: Path = SLICE) -> pd.DataFrame:
    """The slice loaded exactly as SOURCE.md says."""
    return pd.read_csv(
        path,
        dtype={"InvoiceNo": str, "StockCode": str},
        keep_default_na=False,
        na_values=[""],
        parse_dates=["InvoiceDate"],
    )


def clean(frame: pd.DataFrame) -> pd.DataFrame:
    """The sale rows by the rules of SOURCE.md / PROTOCOL.md, written independently of the importer."""
    frame = frame.drop_duplicates().copy()
    frame["sku"] = frame["StockCode"].str.upper()
    frame["text"] = frame["Description"].str.strip()
    keep = (
        ~frame["InvoiceNo"].str.startswith(("C", "A"))
        & (frame["Quantity"] > 0)
        & (frame["UnitPrice"] > 0)
        & frame["sku"].str.match(r"\d{5}")
    )
    return frame[keep]


def run(*args: str) -> str:
    out = StringIO()
    call_command("import_online_retail", *args, "--no-progress", stdout=out, stderr=StringIO())
    return out.getvalue()


def db_counts() -> dict[str, int]:
    return {
        "categories": Category.objects.count(),
        "products": Product.objects.count(),
        "customers": get_user_model().objects.count(),
        "orders": Order.objects.count(),
        "lines": OrderLine.objects.count(),
        "events": Event.objects.count(),
    }


def london(value: pd.Timestamp) -> dt.datetime:
    return value.to_pydatetime().replace(tzinfo=LONDON)


def money(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


@pytest.fixture(scope="module")
def raw() -> pd.DataFrame:
    return read_slice()


@pytest.fixture(scope="module")
def sales(raw: pd.DataFrame) -> pd.DataFrame:
    return clean(raw)


@pytest.fixture
def imported() -> importing.ImportSummary:
    return importing.import_online_retail(SLICE)


# --- counts -------------------------------------------------------------------------------------------
def test_import_creates_what_an_independent_pandas_computation_expects(sales, imported):
    # given the slice, imported by the fixture
    # then
    assert db_counts() == {
        "categories": Category.objects.filter(products__isnull=False).distinct().count(),
        "products": sales["sku"].nunique(),
        "customers": sales["CustomerID"].nunique(),
        "orders": sales["InvoiceNo"].nunique(),
        "lines": len(sales),
        "events": len(sales),
    }
    assert imported.created == db_counts()
    assert imported.rows_imported == len(sales)
    assert OrderLine.objects.aggregate(units=Sum("quantity"))["units"] == sales["Quantity"].sum()
    revenue = OrderLine.objects.aggregate(total=Sum(F("quantity") * F("unit_price")))["total"]
    assert revenue == sum(Decimal(str(p)) * q for p, q in zip(sales["UnitPrice"], sales["Quantity"], strict=True))


def test_summary_counts_each_skip_reason_in_order_of_precedence(raw, imported):
    # given the rules applied one after the other, as documented
    left = raw.copy()
    expected = {}
    for reason, rule in [
        ("cancellation", lambda f: f["InvoiceNo"].str.startswith("C")),
        ("adjustment", lambda f: f["InvoiceNo"].str.startswith("A")),
        ("non_product", lambda f: ~f["StockCode"].str.upper().str.match(r"\d{5}")),
        ("quantity", lambda f: f["Quantity"] <= 0),
        ("price", lambda f: f["UnitPrice"] <= 0),
        ("duplicate", lambda f: f.duplicated()),
    ]:
        hit = rule(left)
        expected[reason] = int(hit.sum())
        left = left[~hit]
    # then every caveat occurs in the slice and is counted
    assert all(expected.values()), expected
    # (no cancellation line of the slice matches one of its sales: those are netted in test_import_cancellations)
    assert imported.skipped == {"outside_dates": 0, **expected, "cancelled": 0, "existing_order": 0}
    assert imported.cancellations == {"matched": 0, "unmatched": expected["cancellation"]}
    assert imported.rows_read == len(raw)
    assert imported.rows_read == imported.rows_imported + sum(imported.skipped.values())


def test_command_prints_the_summary(sales):
    # when
    output = run(str(SLICE))
    # then
    assert f"rows imported      {len(sales):>9,}" in output
    assert f"{len(sales):,} lines, {len(sales):,} events" in output
    assert "cancellation (InvoiceNo C...)" in output


# --- caveats ------------------------------------------------------------------------------------------
def test_cancellations_adjustments_and_non_product_codes_make_no_orders_or_products(raw, imported):
    assert raw["InvoiceNo"].str.startswith("C").any() and raw["InvoiceNo"].str.startswith("A").any()
    assert not Order.objects.filter(number__regex=r"^[^0-9]").exists()
    assert sorted(Product.objects.exclude(sku__regex=r"^[0-9]{5}").values_list("sku", flat=True)) == []


def test_stock_code_case_variants_are_one_product(raw, sales, imported):
    # given codes that occur in lower case and in upper case among the sales
    variants = sales.groupby("sku")["StockCode"].nunique()
    merged = variants[variants > 1].index
    assert len(merged) > 0
    # then each is one product holding the units of both spellings
    assert not Product.objects.filter(sku__regex=r"[a-z]").exists()
    for sku in merged:
        product = Product.objects.get(sku=sku)
        units = OrderLine.objects.filter(product=product).aggregate(units=Sum("quantity"))["units"]
        assert units == sales.loc[sales["sku"] == sku, "Quantity"].sum()


def test_exact_duplicate_rows_are_dropped(raw, imported):
    # given an invoice with a sale row twice (clean() drops nothing when every row is made unique)
    every_sale = clean(raw.assign(row=range(len(raw))))
    repeated = every_sale[every_sale.duplicated(subset=list(raw.columns))]
    number = repeated["InvoiceNo"].iloc[0]
    distinct = clean(raw[raw["InvoiceNo"] == number])
    assert len(distinct) < (every_sale["InvoiceNo"] == number).sum()
    # then the order has one line per distinct row
    assert OrderLine.objects.filter(order__number=number).count() == len(distinct)


def test_missing_customer_makes_a_guest_order_with_guest_events(sales, imported):
    guests = sales.loc[sales["CustomerID"].isna(), "InvoiceNo"].unique()
    assert len(guests) > 0
    assert Order.objects.filter(customer__isnull=True).count() == len(guests)
    order = Order.objects.get(number=guests[0])
    events = Event.objects.filter(
        client_event_id__in=[f"orderline:{pk}" for pk in order.lines.values_list("pk", flat=True)]
    )
    assert {(e.user_id, e.session_key) for e in events} == {(None, f"order-{order.pk}")}


def test_customers_are_users_with_unusable_passwords(sales, imported):
    expected = {f"customer-{int(value)}" for value in sales["CustomerID"].dropna().unique()}
    users = get_user_model().objects.all()
    assert {user.username for user in users} == expected
    assert not any(user.has_usable_password() for user in users)


def test_product_name_is_the_most_frequent_stripped_description(sales, imported):
    # given the names computed independently (ties: first seen)
    expected = {}
    for sku, group in sales.groupby("sku"):
        texts = [text for text in group["text"] if isinstance(text, str) and text]
        counts = Counter(texts)
        expected[sku] = max(counts, key=lambda text: (counts[text], -texts.index(text))) if texts else None
    # then
    names = dict(Product.objects.values_list("sku", "name"))
    assert names == {sku: name or f"Product {sku}" for sku, name in expected.items()}
    assert all(name == name.strip() for name in names.values())


def test_missing_description_takes_the_description_used_elsewhere_or_a_code_name(tmp_path):
    # given sale rows without a description: one product described on another row, one never described
    rows = [
        "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country",
        "536001,11111,,2,2011-01-03 10:00:00,1.50,12345,United Kingdom",
        "536001,22222,,1,2011-01-03 10:00:00,2.00,12345,United Kingdom",
        "C536002,11111,  SPOTTY MUG ,-1,2011-01-04 10:00:00,1.50,12345,United Kingdom",
    ]
    path = tmp_path / "missing.csv"
    path.write_text("\n".join(rows) + "\n")
    # when
    summary = importing.import_online_retail(path)
    # then
    assert dict(Product.objects.values_list("sku", "name")) == {"11111": "SPOTTY MUG", "22222": "Product 22222"}
    assert summary.descriptions_filled == 2


@pytest.mark.parametrize(
    ("name", "category"),
    [
        ("PAPER CHAIN KIT 50'S CHRISTMAS", "Christmas"),
        ("WHITE HANGING HEART T-LIGHT HOLDER", "Candles & Lights"),
        ("JUMBO BAG RED RETROSPOT", "Bags"),
        ("SET/6 RED SPOTTY PAPER CUPS", "Kitchen & Dining"),
        ("SET OF 4 NAPKIN CHARMS", "Jewellery & Accessories"),
        ("PARTY BUNTING", "Party & Seasonal"),
        ("ASSORTED COLOUR BIRD ORNAMENT", "Home Decor"),
        ("BIRTHDAY CARD, RETRO SPOT", "Party & Seasonal"),
        ("PACK OF 72 RETROSPOT CAKE CASES", "Kitchen & Dining"),
        ("WRAP ENGLISH ROSE", "Cards & Stationery"),
        ("SOMBRERO", "Gifts & Miscellaneous"),
    ],
)
def test_categories_follow_the_ordered_keyword_table(name, category):
    assert importing.categorise(pd.Series([name])).tolist() == [category]


def test_categories_have_slugs_and_every_product_one_of_them(imported):
    categories = list(Category.objects.all())
    assert {c.slug for c in categories} == {slugify(c.name) for c in categories}
    known = {name for name, _ in importing.CATEGORY_KEYWORDS} | {importing.FALLBACK_CATEGORY}
    assert {c.name for c in categories} <= known
    assert len(categories) >= 10


def test_prices_costs_and_stock_follow_the_documented_rules(sales, imported):
    # given the rules computed independently
    last_day = sales["InvoiceDate"].max().normalize()
    recent = sales[sales["InvoiceDate"] >= last_day - pd.Timedelta(days=55)]
    expected = {}
    for sku, group in sales.groupby("sku"):
        median = Decimal(str(group["UnitPrice"].median()))
        units = int(recent.loc[recent["sku"] == sku, "Quantity"].sum())
        expected[sku] = (money(median), money(median * Decimal("0.6")), math.ceil(units * 3 / 8), True)
    # then
    actual = {p.sku: (p.list_price, p.unit_cost, p.stock_on_hand, p.is_active) for p in Product.objects.all()}
    assert actual == expected
    stock = [values[2] for values in expected.values()]
    assert min(stock) == 0 and max(stock) > 0  # some products are out of stock


def test_orders_keep_number_london_time_country_and_customer(sales, imported):
    heads = sales.groupby("InvoiceNo").agg(
        placed=("InvoiceDate", "min"), country=("Country", "first"), customer=("CustomerID", "first")
    )
    expected = {
        number: (london(row.placed), row.country, None if pd.isna(row.customer) else f"customer-{int(row.customer)}")
        for number, row in heads.iterrows()
    }
    actual = {
        o.number: (o.placed_at, o.country, o.customer.username if o.customer else None)
        for o in Order.objects.select_related("customer")
    }
    assert actual == expected
    assert {o.placed_at.utcoffset() for o in Order.objects.all()} <= {dt.timedelta(0)}  # stored as UTC


def test_purchase_events_mirror_the_order_lines(imported):
    lines = {
        f"orderline:{line.pk}": (
            "purchase",
            line.order.customer_id,
            line.product_id,
            line.quantity,
            line.unit_price,
            line.order.placed_at,
            "import",
        )
        for line in OrderLine.objects.select_related("order")
    }
    events = {
        e.client_event_id: (e.event_type, e.user_id, e.product_id, e.quantity, e.price, e.timestamp, e.source)
        for e in Event.objects.all()
    }
    assert events == lines


# --- idempotence and options --------------------------------------------------------------------------
def test_second_run_changes_nothing(imported):
    # given a product an operator edited after the first import
    product = Product.objects.order_by("sku").first()
    Product.objects.filter(pk=product.pk).update(list_price=Decimal("99.99"), stock_on_hand=7)
    before = db_counts()
    order = Order.objects.order_by("number").first()
    # when
    second = importing.import_online_retail(SLICE)
    # then
    assert db_counts() == before
    assert second.created == dict.fromkeys(second.created, 0)
    assert second.skipped["existing_order"] == imported.rows_imported
    assert second.rows_imported == 0
    product.refresh_from_db()
    assert (product.list_price, product.stock_on_hand) == (Decimal("99.99"), 7)
    assert Order.objects.get(pk=order.pk).placed_at == order.placed_at


def test_limit_reads_only_the_first_rows(raw):
    # when
    output = run(str(SLICE), "--limit", "500")
    # then
    sales = clean(raw.iloc[:500])
    assert "rows read                500" in output
    assert (Order.objects.count(), OrderLine.objects.count()) == (sales["InvoiceNo"].nunique(), len(sales))


def test_since_and_until_select_days_inclusively(raw):
    # when
    run(str(SLICE), "--since", "2011-03-01", "--until", "2011-06-30")
    # then
    sales = clean(raw)
    window = sales[(sales["InvoiceDate"] >= "2011-03-01") & (sales["InvoiceDate"] < "2011-07-01")]
    assert (Order.objects.count(), OrderLine.objects.count()) == (window["InvoiceNo"].nunique(), len(window))
    placed = Order.objects.values_list("placed_at", flat=True)
    assert min(placed) >= dt.datetime(2011, 3, 1, tzinfo=LONDON)
    assert max(placed) < dt.datetime(2011, 7, 1, tzinfo=LONDON)


def test_online_retail_ii_header_in_a_plain_csv_imports_the_same(raw, tmp_path):
    # given the slice with the Online Retail II header, not gzipped, CustomerID written as a float
    path = tmp_path / "online_retail_II.csv"
    raw.rename(columns=II_HEADER).to_csv(path, index=False, date_format="%Y-%m-%d %H:%M:%S")
    assert (
        path.read_text().splitlines()[0]
        == "Invoice,StockCode,Description,Quantity,InvoiceDate,Price,Customer ID,Country"
    )
    # when
    summary = importing.import_online_retail(path)
    # then
    sales = clean(raw)
    assert (Order.objects.count(), OrderLine.objects.count(), get_user_model().objects.count()) == (
        sales["InvoiceNo"].nunique(),
        len(sales),
        sales["CustomerID"].nunique(),
    )
    assert summary.rows_read == len(raw)


def test_default_path_is_the_repository_file():
    from django.conf import settings

    assert (Path(settings.BASE_DIR) / importing.DEFAULT_PATH).is_file()


def test_a_failure_while_writing_leaves_the_database_unchanged(monkeypatch):
    # given the event insert fails after products, orders and lines are written
    def fail(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(importing.history, "write_purchase_events", fail)
    # when
    with pytest.raises(RuntimeError):
        importing.import_online_retail(SLICE)
    # then
    assert db_counts() == dict.fromkeys(db_counts(), 0)


def schema_of(*tables: str) -> tuple[set[tuple[str, str]], set[tuple[str, str]]]:
    """The indexes and the constraints of ``tables`` (PostgreSQL), as (name, definition) pairs."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = ANY(%s)", [list(tables)])
        indexes = set(cursor.fetchall())
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = ANY(%s::regclass[])",
            [list(tables)],
        )
        return indexes, set(cursor.fetchall())


TABLES = (OrderLine._meta.db_table, Event._meta.db_table)
needs_postgresql = pytest.mark.skipif(connection.vendor != "postgresql", reason="the COPY bulk load is PostgreSQL's")


@needs_postgresql
def test_a_large_import_drops_and_restores_the_indexes_and_foreign_keys(monkeypatch, sales):
    # given every import counts as large, and the schema before it
    monkeypatch.setattr(importing, "BULK_LOAD_LINES", 1)
    before = schema_of(*TABLES)
    assert any("FOREIGN KEY" in definition for _, definition in before[1])
    # when
    importing.import_online_retail(SLICE)
    # then the same indexes and constraints are back, and every line has its event
    assert schema_of(*TABLES) == before
    assert OrderLine.objects.count() == Event.objects.count() == len(sales)
    assert set(Event.objects.values_list("client_event_id", flat=True)) == {
        f"orderline:{pk}" for pk in OrderLine.objects.values_list("pk", flat=True)
    }


@needs_postgresql
def test_a_large_import_that_fails_leaves_schema_and_data_unchanged(monkeypatch):
    # given a large import whose event write fails after the indexes were dropped and the lines copied
    monkeypatch.setattr(importing, "BULK_LOAD_LINES", 1)
    before = schema_of(*TABLES)

    def fail(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(importing.history, "write_purchase_events", fail)
    # when
    with pytest.raises(RuntimeError):
        importing.import_online_retail(SLICE)
    # then
    assert schema_of(*TABLES) == before
    assert db_counts() == dict.fromkeys(db_counts(), 0)


# --- bad input ----------------------------------------------------------------------------------------
def write_bytes(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def header_only(path: Path, header: str) -> Path:
    return write_bytes(path, (header + "\n536001,11111,MUG,1,2011-01-03 10:00:00,1.5,1,UK\n").encode())


def with_value(path: Path, row: int, column: str, value: str) -> Path:
    """The slice as a plain CSV with one raw value replaced (row 0 is on line 2)."""
    frame = pd.read_csv(SLICE, dtype=str, keep_default_na=False)
    frame.loc[row, column] = value
    frame.to_csv(path, index=False)
    return path


def with_extra_field(text: bytes, line: int) -> bytes:
    lines = text.split(b"\n")
    lines[line - 1] += b",extra"
    return b"\n".join(lines)


BAD_INPUTS = {
    "missing file": (lambda tmp: tmp / "nope.csv.gz", [], "There is no file "),
    "wrong header": (
        lambda tmp: header_only(
            tmp / "h.csv", "Invoice,StockCode,Description,Quantity,InvoiceDate,Cost,Client,Country"
        ),
        [],
        "lacks the column(s) UnitPrice or Price, CustomerID or Customer ID",
    ),
    "garbled gzip": (lambda tmp: write_bytes(tmp / "g.csv.gz", SLICE.read_bytes()[:5000]), [], "damaged gzip"),
    "not gzip": (lambda tmp: write_bytes(tmp / "n.csv.gz", b"InvoiceNo,StockCode\n1,2\n"), [], "not a gzip file"),
    "binary": (lambda tmp: write_bytes(tmp / "b.csv", bytes(range(128, 256)) * 20), [], "not UTF-8"),
    "empty": (lambda tmp: write_bytes(tmp / "e.csv", b""), [], "is empty"),
    "folder": (lambda tmp: tmp, [], "is not a file"),
    "ragged": (
        lambda tmp: write_bytes(tmp / "r.csv", with_extra_field(gzip.decompress(SLICE.read_bytes()), line=3)),
        [],
        "is not a readable CSV file: Error tokenizing data. C error: Expected 8 fields in line 3, saw 9",
    ),
    "bad quantity": (
        lambda tmp: with_value(tmp / "q.csv", 5, "Quantity", "six"),
        [],
        "Quantity that is not a whole number from -1,000,000 to 1,000,000 (line 7: 'six')",
    ),
    "huge quantity": (
        lambda tmp: with_value(tmp / "h.csv", 8, "Quantity", "2000000"),
        [],
        "Quantity that is not a whole number from -1,000,000 to 1,000,000 (line 10: '2000000')",
    ),
    "bad price": (
        lambda tmp: with_value(tmp / "p.csv", 9, "UnitPrice", "1,50"),
        [],
        "UnitPrice that is not a number below 100,000,000 (line 11: '1,50')",
    ),
    "bad customer": (
        lambda tmp: with_value(tmp / "c.csv", 3, "CustomerID", "ABC"),
        [],
        "CustomerID that is not a positive whole number (line 5: 'ABC')",
    ),
    "bad date": (
        lambda tmp: with_value(tmp / "d.csv", 4, "InvoiceDate", "2011-13-01 10:00:00"),
        [],
        "InvoiceDate that is not YYYY-MM-DD HH:MM[:SS] (line 6: '2011-13-01 10:00:00')",
    ),
    "empty code": (lambda tmp: with_value(tmp / "s.csv", 0, "StockCode", ""), [], "an empty StockCode (line 2"),
    "bad --since": (lambda tmp: SLICE, ["--since", "2011-02-30"], "--since must be a date written YYYY-MM-DD"),
    "bad --until": (lambda tmp: SLICE, ["--until", "yesterday"], "--until must be a date"),
    "since after until": (lambda tmp: SLICE, ["--since", "2011-06-01", "--until", "2011-05-01"], "lies after --until"),
    "limit 0": (lambda tmp: SLICE, ["--limit", "0"], "--limit must be a positive number"),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_is_a_command_error_and_writes_nothing(case, tmp_path):
    # given
    make_path, options, message = BAD_INPUTS[case]
    path = make_path(tmp_path)
    # when
    with pytest.raises(CommandError) as error:
        run(str(path), *options)
    # then
    assert message in str(error.value)
    assert str(error.value).count(".csv") <= 1  # one message, not one wrapped in another
    assert db_counts() == dict.fromkeys(db_counts(), 0)


def test_imports_of_adjacent_windows_add_up_to_one_full_import(sales):
    # when
    run(str(SLICE), "--until", "2011-06-30")
    run(str(SLICE), "--since", "2011-07-01")
    # then
    assert (Order.objects.count(), OrderLine.objects.count(), Event.objects.count()) == (
        sales["InvoiceNo"].nunique(),
        len(sales),
        len(sales),
    )
