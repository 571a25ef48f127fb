"""Import the UCI "Online Retail" transactions into the demo shop.

One entry point, :func:`import_online_retail`: read and validate the whole file first (pandas,
vectorised), derive the catalogue from it, then write categories, products, customers, orders, order
lines and purchase events in ONE transaction. Nothing is written when the file is unusable, and a
second run over the same file changes nothing (products by SKU, customers by username and orders by
number are created only when missing; events are keyed by their order line).

Reading and validating the file (:func:`read_rows`, :func:`parse_rows`, :func:`parse_day`) live in
:mod:`shop_project.shop.import_reading`, which also defines :class:`ImportDataError` (re-exported here);
this module derives the catalogue and writes.

The rules for every caveat of the data (see ``docs/import.md``):

* Rows are skipped, in this order of precedence, and counted per reason: outside ``--since`` /
  ``--until``; cancellations (InvoiceNo ``C...``); bad-debt adjustments (InvoiceNo ``A...``); codes that
  are not products (StockCode not starting with five digits: POST, D, M, DOT, BANK CHARGES, ...);
  Quantity <= 0; UnitPrice <= 0; exact duplicates of an earlier row (all eight raw values equal);
  sales cancelled by a cancellation line (:mod:`.import_cancellations`); rows of an invoice that is already
  in the database.
* Cancellations are netted: a cancellation line (InvoiceNo ``C...``, a product, Quantity < 0, a
  CustomerID) cancels the latest sale row, not yet cancelled, of the same customer, product and
  quantity (its negative) whose InvoiceDate is not after the cancellation's, on another invoice. The
  cancelled sale is not imported, so it leaves no order line, revenue, stock or demand behind (an
  order all of whose lines are cancelled is not created). Matching runs over the whole file read
  (after ``--limit``), whatever ``--since`` / ``--until``, so adjacent windows still add up.
* StockCodes are upper-cased, so case variants (``85123a`` / ``85123A``) are one product.
* Descriptions are stripped; a product's name is its most frequent description on its sale rows
  (ties: the one seen first); a product whose sale rows have no description takes the most frequent
  one of any row of the file, else ``"Product <code>"``.
* A missing CustomerID makes a guest order (no customer).
* Category: the first row of :data:`CATEGORY_KEYWORDS` whose keyword is a word of the name.
* list_price = median UnitPrice of the product's sale rows; unit_cost = that median x 0.6; stock on
  hand = 3 weeks of the product's average weekly units over the last 8 weeks of the data (0 when it
  did not sell then). All rounded half-up (prices to the penny, stock up to a whole unit).
"""

from __future__ import annotations

import datetime as dt
import math
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import connections, models, router, transaction
from django.utils.text import slugify
from tqdm import tqdm

from personalization.capture import history
from personalization.models import Event, EventSource

from . import data_shift
from .import_cancellations import cancelled_sales
from .import_reading import ImportDataError, parse_rows, read_rows
from .models import Category, Order, OrderLine, Product

DEFAULT_PATH = Path("data") / "online_retail_ii.csv.gz"
"""The file imported when no path is given, relative to ``settings.BASE_DIR``."""

DATA_TIME_ZONE = "Europe/London"
"""The shop's local time, in which InvoiceDate is written."""

# Ordered: a product goes to the first category with a keyword (``|``-separated) that is a word of its
# name; a keyword also matches its plural in S / ES. Names matching none go to FALLBACK_CATEGORY.
CATEGORY_KEYWORDS: tuple[tuple[str, str], ...] = (
    (
        "Christmas",
        "CHRISTMAS|XMAS|ADVENT|SANTA|REINDEER|NATIVITY|BAUBLE|SNOWMAN|SNOWFLAKE|ELF|NOEL|ANGEL|STOCKING|TINSEL",
    ),
    (
        "Party & Seasonal",
        "PARTY|BIRTHDAY|EASTER|BALLOON|BUNTING|CONFETTI|WEDDING|HALLOWEEN|VALENTINE|CHICK|BUNNY|FLAG|PENNANT",
    ),
    (
        "Jewellery & Accessories",
        "NECKLACE|NECKLAC|BRACELET|BRACLET|EARRING|CHARM|PENDANT|BROOCH|HAIR|HAIRCLIP|"
        "HAIRSLIDE|HAIRBAND|DIAMANTE|BEAD|UMBRELLA|SCARF|GLOVES|HAND WARMER|KEYRING|KEY RING|BANGLE|"
        "SLIPPER|HAT|SUNGLASSES|TIARA|BADGE|LARIAT",
    ),
    (
        "Candles & Lights",
        "CANDLE|T-LIGHT|TEA LIGHT|TEALIGHT|LANTERN|LIGHT|LAMP|LAMPSHADE|INCENSE|OIL BURNER|"
        "CANDLEHOLDER|CANDLESTICK|CANDLEPOT|CANDLESTAND|NIGHTLIGHT|LED|MATCHES",
    ),
    ("Bags", "BAG|HANDBAG|PURSE|WALLET|SHOPPER|TOTE|RUCKSACK|BACKPACK|SATCHEL|LUGGAGE TAG"),
    (
        "Toys & Games",
        "TOY|GAME|JIGSAW|PUZZLE|DOLL|TEDDY|PLAYING CARDS|SKITTLES|DOMINOES|MARBLES|SPINNING TOP|"
        "SKIPPING ROPE|KITE|SOLDIER|DINOSAUR|PLAYHOUSE|BUBBLES|TATTOOS|COLOURING|SNAKES|CHALK|MAGIC|"
        "HELICOPTER|FLYING DISC|BINGO|PUPPET|SPADE|WHEELBARROW|PAINT SET|GLOBE|RABBIT|MONSTER",
    ),
    (
        "Home Textiles & Bath",
        "CUSHION|THROW|BLANKET|HOT WATER BOTTLE|QUILT|TOWEL|CURTAIN|RUG|TABLECLOTH|"
        "DOORMAT|BATH|BATHROOM|SOAP|WASHBAG|SPONGE|FLANNEL|HAMMOCK|BIB|SHOWER CAP",
    ),
    (
        "Kitchen & Dining",
        "MUG|CUP|TEACUP|TEA|TEAPOT|COFFEE|PLATE|PLATTER|BOWL|FRUITBOWL|DISH|JAR|JUG|CAKE|BAKING|"
        "CUTLERY|SPOON|FORK|KNIFE|NAPKIN|LUNCH BOX|LUNCHBOX|LUNCH|TRAY|PANTRY|KITCHEN|APRON|"
        "CHOPPING BOARD|COASTER|PLACEMAT|EGG CUP|JAM|MILK|PAN|TUMBLER|BEAKER|STRAW|PICNIC|DOILY|"
        "DOILIES|GLASS|BOTTLE|CUPCAKE|BISCUIT|COOKIE|RECIPE|SUGAR|SAUCER|CAKESTAND|TRIVET|WINE|FOOD|"
        "BREAD|BUTTER|EGG|TOAST|TOASTRACK|SCALES|MOULD|JELLY|CONTAINER|FLASK|CHOPSTICKS|SQUEEZER",
    ),
    (
        "Cards & Stationery",
        "CARD|WRAP|PAPER|NOTEBOOK|SKETCHBOOK|POSTCARD|PEN|PENCIL|STICKER|TAPE|ENVELOPE|NOTEPAD|DIARY|"
        "CALENDAR|ERASER|RUBBER|JOURNAL|BOOK|GIFT TAG|TAG|RIBBON|TISSUE|STATIONERY|ALBUM|BOOKMARK|"
        "RULER|SHARPENER|STAMP|MEMO|ORGANISER|ADDRESS|PAD|CRAYON|CHALKBOARD|BLACKBOARD|MAGNET|"
        "PAPERWEIGHT",
    ),
    (
        "Craft & Sewing",
        "SEWING|KNITTING|CRAFT|FELTCRAFT|BUTTON|THREAD|NEEDLE|SCISSOR|EMBROIDERY|CROCHET|KIT|"
        "PIN|PEG|DECOUPAGE|FABRIC|CANVAS|TWINE|PATCHES",
    ),
    (
        "Garden & Outdoors",
        "GARDEN|PLANT|PLANTER|FLOWER POT|WATERING CAN|BIRD HOUSE|BIRDHOUSE|BIRD FEEDER|FEEDER|"
        "BIRD TABLE|HEN HOUSE|WINDMILL|SEED|HERB|TROWEL|GNOME|POT|WINDCHIME|WIND CHIME|BIRDCAGE|"
        "BIRD CAGE|THERMOMETER|DOVECOTE|PARASOL|WINDSOCK|BEACH",
    ),
    (
        "Storage",
        "BOX|TIN|BASKET|STORAGE|DRAWER|CABINET|CRATE|TIDY|HAMPER|CASE|TRUNK|CHEST|BIN|RACK|SHELF|"
        "CADDY|HOLDER|BUCKET|POUCH|JEWELLERY|TRINKET|CANNISTER|CANISTER|PIGGY BANK|MONEY BANK",
    ),
    (
        "Home Decor",
        "FRAME|PHOTOFRAME|MIRROR|CLOCK|SIGN|DOORSIGN|VASE|ORNAMENT|DECORATION|GARLAND|WREATH|HANGING|"
        "DOORSTOP|DOOR|KNOB|DRAWERKNOB|HOOK|WALL|TILE|PLAQUE|ART|PICTURE|PHOTO|HEART|STAR|BIRD|FLOWER|"
        "CHANDELIER|MOBILE|CHIME|FIGURE|SCULPTURE|BELL|FEATHER|BUTTERFLY|DECORATIVE|LETTER|ALPHABET|"
        "NUMBER|STOOL|CHAIR|TABLE|SEAT",
    ),
)
FALLBACK_CATEGORY = "Gifts & Miscellaneous"

STOCK_WINDOW_WEEKS = 8
STOCK_COVER_WEEKS = 3
UNIT_COST_RATIO = Decimal("0.6")
PRODUCT_CODE = re.compile(r"^\d{5}")
WRITE_BLOCK = 50_000  # order lines formatted and sent per COPY write (PostgreSQL) / executemany (SQLite)
BULK_LOAD_LINES = 100_000  # from this many new lines on, PostgreSQL loads with the secondary indexes and FKs off
KEY_QUERY_CHUNK = 500  # values per ``__in`` look-up (SQLite limits query parameters)

# Skip reasons, in order of precedence (a row counts under the first that applies).
SKIP_REASONS: dict[str, str] = {
    "outside_dates": "outside --since/--until",
    "cancellation": "cancellation (InvoiceNo C...)",
    "adjustment": "bad-debt adjustment (InvoiceNo A...)",
    "non_product": "not a product (StockCode without 5 leading digits)",
    "quantity": "Quantity <= 0",
    "price": "UnitPrice <= 0",
    "duplicate": "exact duplicate of an earlier row",
    "cancelled": "sale cancelled by a later C line",
    "existing_order": "order already in the database",
}
# What became of the cancellation lines (the rows counted under "cancellation").
CANCELLATION_OUTCOMES: dict[str, str] = {
    "matched": "cancelled a sale (same customer, product, quantity)",
    "unmatched": "matched no sale (partial, guest, non-product or duplicate)",
}

T = TypeVar("T")


@dataclass
class ImportSummary:
    """What an import read, skipped and created."""

    path: str
    rows_read: int = 0
    rows_imported: int = 0
    descriptions_filled: int = 0
    shift_days: int = 0
    skipped: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SKIP_REASONS, 0))
    cancellations: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CANCELLATION_OUTCOMES, 0))
    created: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(("categories", "products", "customers", "orders", "lines", "events"), 0)
    )

    def render(self) -> str:
        """The summary as printed at the end of the command."""
        width = max(len(label) for label in SKIP_REASONS.values())
        rows = [
            f"Imported {self.path}",
            f"  rows read          {self.rows_read:>9,}",
            f"  rows imported      {self.rows_imported:>9,}",
            f"  rows skipped       {sum(self.skipped.values()):>9,}",
        ]
        rows += [f"    {SKIP_REASONS[key]:<{width}} {count:>9,}" for key, count in self.skipped.items()]
        rows.append("  cancellation lines")
        rows += [
            f"    {CANCELLATION_OUTCOMES[key]:<{width}} {count:>9,}" for key, count in self.cancellations.items()
        ]
        rows.append(f"  missing descriptions filled {self.descriptions_filled:,}")
        if self.shift_days:
            rows.append(f"  dates shifted by {self.shift_days:+,} days ({self.shift_days // 7:+,} weeks)")
        rows.append("  created: " + ", ".join(f"{count:,} {name}" for name, count in self.created.items()))
        return "\n".join(rows)


@dataclass
class PreparedImport:
    """The validated rows to import and the facts of every product they need (no database access)."""

    rows_read: int
    sales: pd.DataFrame  # one row per order line to write: invoice, code, quantity, price, date, customer, country
    products: pd.DataFrame  # index code: name, description, category, list_price, unit_cost, stock, first_sold
    skipped: dict[str, int]
    descriptions_filled: int
    cancellations: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CANCELLATION_OUTCOMES, 0))
    read_days: tuple[dt.date, dt.date] | None = None  # first and last InvoiceDate of all the rows read


# --- deriving the catalogue -----------------------------------------------------------------------------
def _skip_masks(
    raw: pd.DataFrame, rows: pd.DataFrame, since: dt.date | None, until: dt.date | None
) -> tuple[dict[str, pd.Series], pd.Series]:
    """The mask of each skip reason, and the mask of the cancellation rows that cancelled a sale."""
    first = rows["invoice"].str[0].str.upper()
    outside = pd.Series(False, index=rows.index)
    if since is not None:
        outside |= rows["date"] < pd.Timestamp(since)
    if until is not None:
        outside |= rows["date"] >= pd.Timestamp(until) + pd.Timedelta(days=1)
    product = rows["code"].str.match(PRODUCT_CODE.pattern)
    duplicate = raw.duplicated(keep="first")
    known = rows["customer"].notna() & product & ~duplicate  # a guest's cancellation names no customer to match
    sale = known & ~first.isin(["C", "A"]) & rows["quantity"].gt(0) & rows["price"].gt(0)
    cancellation = known & first.eq("C") & rows["quantity"].lt(0)
    cancelled, matched = cancelled_sales(rows, sale, cancellation)
    masks = {
        "outside_dates": outside,
        "cancellation": first.eq("C"),
        "adjustment": first.eq("A"),
        "non_product": ~product,
        "quantity": rows["quantity"].le(0),
        "price": rows["price"].le(0),
        "duplicate": duplicate,
        "cancelled": cancelled,
    }
    return masks, matched


def _most_frequent(codes: pd.Series, texts: pd.Series) -> pd.Series:
    """Per code, its most frequent non-empty text (ties: the one seen first)."""
    frame = pd.DataFrame({"code": codes, "text": texts, "order": np.arange(len(codes))}).dropna(subset=["text"])
    counts = frame.groupby(["code", "text"], sort=False).agg(count=("order", "size"), first=("order", "min"))
    counts = counts.reset_index().sort_values(["code", "count", "first"], ascending=[True, False, True])
    return counts.drop_duplicates("code").set_index("code")["text"]


@lru_cache(maxsize=1)
def _category_patterns() -> tuple[tuple[str, re.Pattern[str]], ...]:
    def pattern(words: Iterable[str]) -> re.Pattern[str]:
        alternatives = "|".join(re.escape(word) + "(?:S|ES)?" for word in sorted(words, key=len, reverse=True))
        return re.compile(rf"\b(?:{alternatives})\b")

    return tuple((name, pattern(words.split("|"))) for name, words in CATEGORY_KEYWORDS)


def categorise(names: pd.Series) -> pd.Series:
    """The category name of each product name, by :data:`CATEGORY_KEYWORDS` (first match wins)."""
    upper = names.str.upper()
    result = pd.Series(FALLBACK_CATEGORY, index=names.index, dtype=object)
    open_ = pd.Series(True, index=names.index)
    for category, pattern in _category_patterns():
        hit = open_ & upper.str.contains(pattern)
        result[hit] = category
        open_ &= ~hit
    return result


def _other_names(name: str, descriptions: list[str]) -> str:
    """The product's other descriptions (most frequent first), as its shop description."""
    others = [text for text in descriptions if text != name][:5]
    return f"Also listed as: {'; '.join(others)}." if others else ""


def _money(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def product_facts(sales: pd.DataFrame, rows: pd.DataFrame) -> pd.DataFrame:
    """Name, description, category, prices, stock and first sale of every product sold in ``sales``."""
    names = _most_frequent(sales["code"], sales["description"])
    fallback = _most_frequent(rows["code"], rows["description"])
    codes = pd.Index(sales["code"].unique(), name="code")
    name = names.reindex(codes)
    name = name.where(name.notna(), fallback.reindex(codes))  # where, not fillna: no object-dtype downcast
    name = name.where(name.notna(), pd.Series("Product " + codes, index=codes)).str.slice(0, 200)
    variants = (
        sales.dropna(subset=["description"])
        .groupby("code")["description"]
        .agg(lambda texts: list(texts.value_counts(sort=True).index))
    )
    description = [_other_names(own, variants.get(code, [])) for code, own in name.items()]
    grouped = sales.groupby("code")
    median = grouped["price"].median().reindex(codes)
    last_day = sales["date"].max().normalize()
    window = sales[sales["date"] >= last_day - pd.Timedelta(weeks=STOCK_WINDOW_WEEKS) + pd.Timedelta(days=1)]
    recent_units = window.groupby("code")["quantity"].sum().reindex(codes).fillna(0)
    stock = [math.ceil(units * STOCK_COVER_WEEKS / STOCK_WINDOW_WEEKS) for units in recent_units]
    return pd.DataFrame(
        {
            "name": name,
            "description": description,
            "category": categorise(name),
            "list_price": [_money(Decimal(repr(float(value)))) for value in median],
            "unit_cost": [_money(Decimal(repr(float(value))) * UNIT_COST_RATIO) for value in median],
            "stock": stock,
            "first_sold": grouped["date"].min().reindex(codes),
        },
        index=codes,
    )


def prepare(
    raw: pd.DataFrame, *, since: dt.date | None = None, until: dt.date | None = None, path: Path | str = "the file"
) -> PreparedImport:
    """Validate the raw rows, apply the skip rules and derive the products (no database access)."""
    if since is not None and until is not None and since > until:
        raise ImportDataError(f"--since {since} lies after --until {until}.")
    rows = parse_rows(raw, path)
    keep = pd.Series(True, index=rows.index)
    skipped: dict[str, int] = dict.fromkeys(SKIP_REASONS, 0)
    masks, matched_rows = _skip_masks(raw, rows, since, until)
    counted_as_cancellation = keep & ~masks["outside_dates"] & masks["cancellation"]
    for reason, mask in masks.items():
        skipped[reason] = int((keep & mask).sum())
        keep &= ~mask
    matched = int((counted_as_cancellation & matched_rows).sum())
    cancellations = {"matched": matched, "unmatched": int(counted_as_cancellation.sum()) - matched}
    sales = rows[keep]
    filled = int(sales["description"].isna().sum())
    products = product_facts(sales, rows) if len(sales) else pd.DataFrame()
    read_days = (rows["date"].min().date(), rows["date"].max().date()) if len(rows) else None
    return PreparedImport(len(rows), sales.copy(), products, skipped, filled, cancellations, read_days)


# --- writing --------------------------------------------------------------------------------------------
def _chunks(values: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _existing(model: type[models.Model], key: str, values: Iterable[Any]) -> dict[Any, int]:
    """Natural key -> pk of the rows of ``model`` whose ``key`` is among ``values`` (chunked look-ups)."""
    found: dict[Any, int] = {}
    for chunk in _chunks(sorted(set(values)), KEY_QUERY_CHUNK):
        found.update(model._default_manager.filter(**{f"{key}__in": chunk}).values_list(key, "pk"))
    return found


def _create(model: type[models.Model], key: str, objects: list[Any]) -> dict[Any, int]:
    """Bulk-create ``objects`` and map their natural ``key`` to the new pks (re-queried if not returned)."""
    created = model._default_manager.bulk_create(objects, batch_size=1000)
    if all(obj.pk is not None for obj in created):
        return {getattr(obj, key): obj.pk for obj in created}
    return _existing(model, key, [getattr(obj, key) for obj in objects])


def _utc(dates: pd.Series) -> pd.DatetimeIndex:
    """Naive London wall-clock times in UTC (ambiguous: summer time; missing: shifted forward)."""
    local = dates.dt.tz_localize(DATA_TIME_ZONE, ambiguous=np.ones(len(dates), dtype=bool), nonexistent="shift_forward")
    return pd.DatetimeIndex(local).tz_convert("UTC")


def _aware(dates: pd.Series) -> pd.Series:
    """:func:`_utc` as aware datetime objects (for model fields)."""
    return pd.Series(_utc(dates).to_pydatetime(), index=dates.index, dtype=object)


def _write_catalogue(prepared: PreparedImport, codes: Iterable[str], summary: ImportSummary) -> dict[str, int]:
    """Product pk per code, creating the missing products (and their categories)."""
    product_ids = _existing(Product, "sku", codes)
    missing = prepared.products.loc[sorted(set(codes) - set(product_ids))]
    if missing.empty:
        return product_ids
    wanted = {slugify(name): name for name in missing["category"].unique()}
    category_ids = _existing(Category, "slug", wanted)
    new_categories = [Category(name=wanted[slug], slug=slug) for slug in sorted(set(wanted) - set(category_ids))]
    category_ids.update(_create(Category, "slug", new_categories))
    first_sold = _aware(missing["first_sold"])
    new_products = [
        Product(
            sku=code,
            name=row.name,
            description=row.description,
            category_id=category_ids[slugify(row.category)],
            list_price=row.list_price,
            unit_cost=row.unit_cost,
            stock_on_hand=row.stock,
            is_active=True,
            created_at=first_sold[code],
        )
        for code, row in zip(missing.index, missing.itertuples(index=False), strict=True)
    ]
    product_ids.update(_create(Product, "sku", new_products))
    summary.created["categories"] += len(new_categories)
    summary.created["products"] += len(new_products)
    return product_ids


def _write_customers(sales: pd.DataFrame, summary: ImportSummary) -> dict[int, int]:
    """User pk per CustomerID, creating the missing users (unusable passwords)."""
    user_model = get_user_model()
    joined = sales.dropna(subset=["customer"]).groupby("customer")["date"].min()
    usernames = {f"customer-{customer}": int(customer) for customer in joined.index}
    user_ids = _existing(user_model, "username", usernames)
    missing = sorted(set(usernames) - set(user_ids))
    joined_at = _aware(joined)
    new_users = [
        user_model(username=username, password=make_password(None), date_joined=joined_at[usernames[username]])
        for username in missing
    ]
    user_ids.update(_create(user_model, "username", new_users))
    summary.created["customers"] += len(new_users)
    return {customer: user_ids[username] for username, customer in usernames.items()}


def _write_orders(sales: pd.DataFrame, user_ids: dict[int, int], summary: ImportSummary) -> dict[str, int]:
    """Order pk per invoice number (all of them new)."""
    heads = sales.groupby("invoice", sort=False).agg(
        date=("date", "min"), customer=("customer", "first"), country=("country", "first")
    )
    placed_at = _aware(heads["date"])
    orders = [
        Order(
            number=number,
            customer_id=None if pd.isna(customer) else user_ids[int(customer)],
            placed_at=placed_at[number],
            country=country,
        )
        for number, customer, country in zip(heads.index, heads["customer"], heads["country"], strict=True)
    ]
    summary.created["orders"] += len(orders)
    return _create(Order, "number", orders)


def _line_frame(
    sales: pd.DataFrame, order_ids: dict[str, int], product_ids: dict[str, int], user_ids: dict[int, int]
) -> pd.DataFrame:
    """The order lines to write, as database values, grouped by order (stable: file order within one)."""
    return pd.DataFrame(
        {
            "order": sales["invoice"].map(order_ids).astype("int64"),
            "product": sales["code"].map(product_ids).astype("int64"),
            "user": sales["customer"].map(user_ids, na_action="ignore").astype("Int64"),
            "quantity": sales["quantity"],
            "price": [f"{value:.2f}" for value in np.round(sales["price"].to_numpy() + 1e-9, 2)],
            "date": sales["date"],
        }
    ).sort_values("order", kind="stable")


@contextmanager
def _bulk_load(
    connection: Any, tables: Sequence[type[models.Model]], announce: Callable[[str], None]
) -> Iterator[None]:
    """PostgreSQL, inside the import's transaction: drop the tables' foreign keys and secondary indexes
    (not the primary key, not a unique constraint) and create them again at the end.

    Building an index once over all the rows is far cheaper than maintaining it row by row, and one
    validating query per foreign key far cheaper than a deferred trigger per row at commit. The price:
    the tables are locked (ACCESS EXCLUSIVE) until the import commits, so the shop cannot record events
    meanwhile; hence only for large imports (:data:`BULK_LOAD_LINES`). A failure rolls all of it back.
    """
    names = [model._meta.db_table for model in tables]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE contype = 'f' AND conrelid = ANY(%s::regclass[]) ORDER BY 1, 2",
            [names],
        )
        foreign_keys = cursor.fetchall()
        cursor.execute(
            "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i "
            "WHERE i.indrelid = ANY(%s::regclass[]) AND NOT i.indisprimary "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid) ORDER BY 1",
            [names],
        )
        indexes = cursor.fetchall()
        cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
        # the rows written so far (products, customers, orders) have deferred FK checks pending, which
        # would refuse the ALTER TABLEs: run them now (Django's FKs are all DEFERRABLE INITIALLY DEFERRED)
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        for table, name, _ in foreign_keys:
            cursor.execute(f"ALTER TABLE {table} DROP CONSTRAINT {connection.ops.quote_name(name)}")
        for name, _ in indexes:
            cursor.execute(f"DROP INDEX {name}")
    yield
    announce(f"Building {len(indexes)} indexes and checking {len(foreign_keys)} foreign keys of {', '.join(names)}")
    with connection.cursor() as cursor:
        for _, definition in indexes:
            cursor.execute(definition)
        for table, name, definition in foreign_keys:
            cursor.execute(f"ALTER TABLE {table} ADD CONSTRAINT {connection.ops.quote_name(name)} {definition}")
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        for table in names:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(table)}")


def _write_lines(
    sales: pd.DataFrame,
    order_ids: dict[str, int],
    product_ids: dict[str, int],
    user_ids: dict[int, int],
    summary: ImportSummary,
    progress: Callable[[int], None],
    announce: Callable[[str], None] = lambda message: None,
) -> None:
    """Order lines, then their purchase events, with no object per line (PostgreSQL: COPY, SQLite: executemany).

    Large imports on PostgreSQL load with the tables' secondary indexes and foreign keys off (:func:`_bulk_load`).
    """
    connection = connections[router.db_for_write(OrderLine)]
    if connection.vendor not in ("postgresql", "sqlite"):
        raise ImportDataError(f"The importer writes to PostgreSQL or SQLite, not {connection.vendor}.")
    frame = _line_frame(sales, order_ids, product_ids, user_ids)
    if connection.vendor == "postgresql" and len(frame) >= BULK_LOAD_LINES:
        with _bulk_load(connection, (OrderLine, Event), announce):
            _write_lines_and_events(connection, frame, summary, progress)
    else:
        _write_lines_and_events(connection, frame, summary, progress)


def _new_line_ids(connection: Any, cursor: Any, count: int) -> np.ndarray:
    """``count`` ids for new order lines: drawn from the sequence (PostgreSQL), or the next ones after every
    id ever used (SQLite: the import's transaction holds the database's write lock, so nobody else takes them)."""
    table = OrderLine._meta.db_table
    if connection.vendor == "postgresql":
        cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)", [table, count])
        return np.fromiter((row[0] for row in cursor.fetchall()), dtype=np.int64, count=count)
    cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {connection.ops.quote_name(table)}")
    used = cursor.fetchone()[0]
    cursor.execute("SELECT name FROM sqlite_master WHERE name = 'sqlite_sequence'")
    if cursor.fetchone():
        cursor.execute("SELECT COALESCE(MAX(seq), 0) FROM sqlite_sequence WHERE name = %s", [table])
        used = max(used, cursor.fetchone()[0])
    return np.arange(used + 1, used + 1 + count, dtype=np.int64)


def _write_lines_and_events(
    connection: Any, frame: pd.DataFrame, summary: ImportSummary, progress: Callable[[int], None]
) -> None:
    quote = connection.ops.quote_name
    table = quote(OrderLine._meta.db_table)
    fields = ("id", "order", "product", "quantity", "unit_price")
    columns = ", ".join(quote(OrderLine._meta.get_field(name).column) for name in fields)
    with connection.cursor() as cursor:
        lines = pd.DataFrame(
            {
                "line": _new_line_ids(connection, cursor, len(frame)),
                "order": frame["order"].to_numpy(),
                "product": frame["product"].to_numpy(),
                "quantity": frame["quantity"].to_numpy(),
                "price": frame["price"].to_numpy(),
            }
        )
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for start in range(0, len(lines), WRITE_BLOCK):
                    block = lines.iloc[start : start + WRITE_BLOCK]
                    copy.write(block.to_csv(sep="\t", header=False, index=False))
                    progress(len(block) // 2)
        else:
            sql = f"INSERT INTO {table} ({columns}) VALUES (%s, %s, %s, %s, %s)"
            for start in range(0, len(lines), WRITE_BLOCK):
                block = lines.iloc[start : start + WRITE_BLOCK]
                cursor.executemany(sql, block.astype(object).itertuples(index=False, name=None))
                progress(len(block) // 2)
    summary.created["lines"] += len(lines)
    events = lines.assign(user=frame["user"].array, at=_utc(frame["date"]).tz_convert(None).to_numpy())
    summary.created["events"] += history.write_purchase_events(
        connection, events, source=EventSource.IMPORT, progress=lambda count: progress(count - count // 2)
    )


def write(
    prepared: PreparedImport, summary: ImportSummary, *, show_progress: bool = False, shift_days: int = 0
) -> None:
    """Write everything ``prepared`` holds in one transaction, skipping orders already stored.

    ``shift_days`` moves every date (:mod:`.data_shift`); the shift is recorded, or the import refused when
    the database holds imported data under another shift.
    """
    with transaction.atomic():
        sales = prepared.sales
        existing = _existing(Order, "number", sales["invoice"])
        if not sales.empty:
            data_shift.record(
                shift_days, sales["date"].min().date(), sales["date"].max().date(), Path(summary.path).name,
                already_imported=bool(existing),
            )
            sales = sales.assign(date=data_shift.shifted(sales["date"], shift_days))
            if shift_days:
                prepared.products["first_sold"] = data_shift.shifted(prepared.products["first_sold"], shift_days)
        old = sales["invoice"].isin(existing)
        summary.skipped["existing_order"] = int(old.sum())
        sales = sales[~old]
        summary.rows_imported = len(sales)
        if sales.empty:
            return
        product_ids = _write_catalogue(prepared, sales["code"].unique(), summary)
        user_ids = _write_customers(sales, summary)
        order_ids = _write_orders(sales, user_ids, summary)
        with tqdm(
            total=len(sales),
            unit="line",
            desc="Order lines",
            file=sys.stderr,
            disable=not show_progress,
            mininterval=0.5,
        ) as bar:
            def announce(message: str) -> None:
                if show_progress:
                    bar.write(message, file=sys.stderr)

            _write_lines(sales, order_ids, product_ids, user_ids, summary, bar.update, announce)


def import_online_retail(
    path: Path | str,
    *,
    limit: int | None = None,
    since: dt.date | None = None,
    until: dt.date | None = None,
    shift_to: dt.date | None = None,
    show_progress: bool = False,
) -> ImportSummary:
    """Import an Online Retail (or Online Retail II) CSV file, plain or gzipped, into the demo shop.

    Validates the whole file before writing anything; raises :class:`ImportDataError` with a message
    for the user when the file or an option is unusable. Idempotent: rows of orders already in the
    database are skipped. ``limit`` takes the first data rows of the file; ``since`` / ``until``
    (inclusive days) select rows by their InvoiceDate in the file. ``shift_to`` moves every date by the
    whole weeks that make the last day read the latest same weekday on or before it (:mod:`.data_shift`).
    """
    path = Path(path)
    prepared = prepare(read_rows(path, limit), since=since, until=until, path=path)
    summary = ImportSummary(
        path=str(path),
        rows_read=prepared.rows_read,
        skipped=dict(prepared.skipped),
        cancellations=dict(prepared.cancellations),
        descriptions_filled=prepared.descriptions_filled,
    )
    if show_progress:
        print(f"Checked {prepared.rows_read:,} rows of {path}; {len(prepared.sales):,} to import.", file=sys.stderr)
    if prepared.read_days is not None and shift_to is not None:
        summary.shift_days = data_shift.days_to_end_by(prepared.read_days[1], shift_to)
    write(prepared, summary, show_progress=show_progress, shift_days=summary.shift_days)
    return summary
