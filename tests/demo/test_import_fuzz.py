"""Hypothesis: the importer reads any file into an import or a clear ImportDataError, never half-written."""
from __future__ import annotations

import csv
import datetime as dt
import io
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from personalization.models import Event
from shop_project.shop import importing
from shop_project.shop.import_reading import COLUMNS, ImportDataError
from shop_project.shop.models import Category, Order, OrderLine, Product

HEADER = list(COLUMNS)
# Values an import accepts (cancellations, adjustments, postage, guests and returns included) ...
VALID = {
    "InvoiceNo": st.sampled_from(["536365", "536366", "C536379", "A563185", " 536367 "]),
    "StockCode": st.sampled_from(["85123A", "85123a", "POST", "D", "M", "BANK CHARGES", "22423", "71053"]),
    "Description": st.text(max_size=60),
    "Quantity": st.integers(-1_000_000, 1_000_000).map(str),
    "InvoiceDate": st.datetimes(min_value=dt.datetime(2009, 1, 1), max_value=dt.datetime(2012, 12, 31)).map(
        lambda d: d.strftime("%Y-%m-%d %H:%M")
    )
    | st.just("12/1/2010 8:26"),
    "UnitPrice": st.decimals(min_value=-10, max_value=10**6, places=2).map(str),
    "CustomerID": st.integers(1, 10**9).map(str) | st.sampled_from(["", "17850.0"]),
    "Country": st.text(max_size=80),
}
# ... and anything at all.
ODD = {
    name: strategy | st.text(max_size=40) | st.sampled_from(["", "nan", "inf", "1e3", "1.5", "2011-02-30 10:00"])
    for name, strategy in VALID.items()
}
VALID_ROW = st.fixed_dictionaries(VALID)


@st.composite
def file_rows(draw: st.DrawFn) -> list[dict[str, str]]:
    """Valid rows, and in half of the files one row of odd values somewhere."""
    rows = draw(st.lists(VALID_ROW, min_size=1, max_size=12))
    if draw(st.booleans()):
        rows.insert(draw(st.integers(0, len(rows))), draw(st.fixed_dictionaries(ODD)))
    return rows


ROWS = file_rows()


def _csv(rows: list[dict[str, str]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=HEADER)
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def _counts() -> tuple[int, ...]:
    return tuple(model.objects.count() for model in (Category, Product, Order, OrderLine, Event))


@given(rows=ROWS)
@settings(max_examples=200, deadline=None)
def test_reading_and_checking_any_rows_gives_an_import_or_a_clear_error(rows):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "rows.csv"
        path.write_text(_csv(rows), encoding="utf-8")
        try:
            prepared = importing.prepare(importing.read_rows(path), path=path)
        except ImportDataError as exc:
            event("refused")
            assert str(exc)
        else:
            event("imported")
            assert prepared.rows_read == len(rows)
            assert len(prepared.sales) + sum(prepared.skipped.values()) == len(rows)


@pytest.mark.django_db
@given(rows=ROWS)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_importing_any_rows_writes_everything_or_nothing(rows, tmp_path):
    path = tmp_path / "rows.csv"
    path.write_text(_csv(rows), encoding="utf-8")
    before = _counts()

    try:
        summary = importing.import_online_retail(path)
    except ImportDataError:
        event("refused")
        assert _counts() == before
    else:
        event("imported")
        assert summary.rows_read == len(rows)
