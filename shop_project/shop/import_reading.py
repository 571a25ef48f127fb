"""Read and validate an Online Retail CSV file: the first stage of :mod:`shop_project.shop.importing`.

:func:`read_rows` reads the file (plain or gzipped) as strings under the canonical column names of
:data:`COLUMNS` (the Online Retail II names are accepted too); :func:`parse_rows` turns those strings
into typed columns, raising :class:`ImportDataError` that lists every kind of unreadable value at once.
Nothing here touches the database.
"""

from __future__ import annotations

import datetime as dt
import gzip
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

# Canonical column -> the names it has in "Online Retail" and "Online Retail II".
COLUMNS: dict[str, tuple[str, ...]] = {
    "InvoiceNo": ("InvoiceNo", "Invoice"),
    "StockCode": ("StockCode",),
    "Description": ("Description",),
    "Quantity": ("Quantity",),
    "InvoiceDate": ("InvoiceDate",),
    "UnitPrice": ("UnitPrice", "Price"),
    "CustomerID": ("CustomerID", "Customer ID"),
    "Country": ("Country",),
}

MAX_QUANTITY = 1_000_000  # the most a purchase event accepts
MAX_PRICE = 100_000_000  # DecimalField(max_digits=10, decimal_places=2)
MAX_CUSTOMER_ID = 10**15


class ImportDataError(ValueError):
    """The file cannot be imported (missing, garbled, wrong header, bad values) or an option is bad."""


def parse_day(value: str | None, option: str) -> dt.date | None:
    """A ``YYYY-MM-DD`` option value as a date (``None`` stays ``None``)."""
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise ImportDataError(f"{option} must be a date written YYYY-MM-DD, not {value!r}.") from None


def _compression(path: Path) -> str | None:
    if not path.exists():
        raise ImportDataError(f"There is no file {path}.")
    if not path.is_file():
        raise ImportDataError(f"{path} is not a file.")
    with path.open("rb") as handle:
        magic = handle.read(2)
    if magic == b"\x1f\x8b":
        return "gzip"
    if path.suffix == ".gz":
        raise ImportDataError(f"{path} is not a gzip file (its name ends in .gz).")
    return None


def _read_csv(path: Path, **kwargs: Any) -> pd.DataFrame:
    compression = _compression(path)
    try:
        return pd.read_csv(path, compression=compression, encoding="utf-8-sig", dtype=str, **kwargs)
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise ImportDataError(f"{path} is a damaged gzip file: {exc}") from None
    except UnicodeDecodeError:
        raise ImportDataError(f"{path} is not UTF-8 text (a garbled or binary file?).") from None
    except pd.errors.EmptyDataError:
        raise ImportDataError(f"{path} is empty: expected a CSV header line.") from None
    except (pd.errors.ParserError, ValueError) as exc:
        raise ImportDataError(f"{path} is not a readable CSV file: {exc}") from None


def _column_names(path: Path) -> dict[str, str]:
    """Canonical column -> the name it has in the file; raises listing the missing columns."""
    header = [str(name).strip() for name in _read_csv(path, nrows=0).columns]
    found: dict[str, str] = {}
    missing: list[str] = []
    for canonical, aliases in COLUMNS.items():
        name = next((alias for alias in aliases if alias in header), None)
        if name is None:
            missing.append(" or ".join(aliases))
        else:
            found[canonical] = name
    if missing:
        raise ImportDataError(
            f"{path} lacks the column(s) {', '.join(missing)}. Expected the header of Online Retail "
            f"({','.join(a[0] for a in COLUMNS.values())}) or Online Retail II "
            f"({','.join(a[-1] for a in COLUMNS.values())}); found: {','.join(header)[:200] or '(nothing)'}."
        )
    return found


def read_rows(path: Path, limit: int | None = None) -> pd.DataFrame:
    """The file's first ``limit`` data rows (all by default) as strings under the canonical column names."""
    if limit is not None and limit < 1:
        raise ImportDataError(f"--limit must be a positive number of rows, not {limit}.")
    names = _column_names(path)
    # Every column is read (no usecols) so that a row with more fields than the header is an error.
    frame = _read_csv(path, keep_default_na=False, na_filter=False, nrows=limit)
    frame.columns = [str(name).strip() for name in frame.columns]
    frame = frame.rename(columns={name: canonical for canonical, name in names.items()})[list(COLUMNS)]
    return frame.fillna("").reset_index(drop=True)


def _parse_dates(text: pd.Series) -> pd.Series:
    """``YYYY-MM-DD HH:MM[:SS]`` (this repository's file), else ``M/D/YYYY H:MM`` (the spreadsheet's CSV)."""
    parsed = pd.to_datetime(text, format="ISO8601", errors="coerce")
    retry = parsed.isna() & text.ne("")
    if retry.any():
        parsed[retry] = pd.to_datetime(text[retry], format="%m/%d/%Y %H:%M", errors="coerce")
    return parsed


def _fail_on(bad: pd.Series, values: pd.Series, message: str, errors: list[str]) -> None:
    if bad.any():
        where = bad[bad].index[:3]
        examples = ", ".join(f"line {index + 2}: {values[index]!r}" for index in where)
        errors.append(f"{int(bad.sum()):,} row(s) with {message} ({examples})")


def parse_rows(raw: pd.DataFrame, path: Path | str = "the file") -> pd.DataFrame:
    """Typed columns from the raw strings; raises listing every kind of unparsable value."""
    text = raw.apply(lambda column: column.str.strip())
    errors: list[str] = []
    for column in ("InvoiceNo", "StockCode", "InvoiceDate", "Quantity", "UnitPrice"):
        _fail_on(text[column].eq(""), text[column], f"an empty {column}", errors)
    _fail_on(text["InvoiceNo"].str.len().gt(32), text["InvoiceNo"], "an InvoiceNo over 32 characters", errors)
    _fail_on(text["StockCode"].str.len().gt(32), text["StockCode"], "a StockCode over 32 characters", errors)
    # Bounds: what an order line (and its purchase event) can hold.
    quantity = pd.to_numeric(text["Quantity"], errors="coerce")
    _fail_on(
        text["Quantity"].ne("") & ~(np.isfinite(quantity) & (quantity % 1 == 0) & (quantity.abs() <= MAX_QUANTITY)),
        text["Quantity"],
        f"a Quantity that is not a whole number from -{MAX_QUANTITY:,} to {MAX_QUANTITY:,}",
        errors,
    )
    price = pd.to_numeric(text["UnitPrice"], errors="coerce")
    _fail_on(
        text["UnitPrice"].ne("") & ~(np.isfinite(price) & (price.abs() < MAX_PRICE)),
        text["UnitPrice"],
        f"a UnitPrice that is not a number below {MAX_PRICE:,}",
        errors,
    )
    customer = pd.to_numeric(text["CustomerID"], errors="coerce")
    _fail_on(
        text["CustomerID"].ne("")
        & ~(np.isfinite(customer) & (customer % 1 == 0) & (customer > 0) & (customer < MAX_CUSTOMER_ID)),
        text["CustomerID"],
        "a CustomerID that is not a positive whole number",
        errors,
    )
    date = _parse_dates(text["InvoiceDate"])
    _fail_on(
        text["InvoiceDate"].ne("") & date.isna(),
        text["InvoiceDate"],
        "an InvoiceDate that is not YYYY-MM-DD HH:MM[:SS]",
        errors,
    )
    if errors:
        raise ImportDataError(f"{path} has values that cannot be read: " + "; ".join(errors) + ".")
    return pd.DataFrame(
        {
            "invoice": text["InvoiceNo"],
            "code": text["StockCode"].str.upper(),
            "description": text["Description"].replace("", None),
            "quantity": quantity.fillna(0).astype("int64"),
            "price": price.astype("float64"),
            "date": date,
            "customer": customer.astype("Int64"),
            "country": text["Country"].str.slice(0, 64),
        }
    )
