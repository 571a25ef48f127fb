"""A seeded synthetic shop: purchase lines in the Online Retail II layout, at any size (issue #18).

Every scaling figure names a preset, its sizes and a seed, and this module turns them into the same
lines on any machine (numpy's PCG64; nothing is downloaded). The lines are written as a CSV.gz with the
columns of ``data/online_retail_ii.csv.gz`` — ``Invoice, StockCode, Description, Quantity,
InvoiceDate, Price, Customer ID, Country`` — so ``manage.py import_online_retail`` and the benches'
loaders (``personalization.ml.evaluation``) read it like the real file.

The model of the shop
---------------------
* **Catalogue** (``n_products``: 10k / 100k / 1M): categories of Zipf-distributed size; product
  popularity is a Zipf law over a random ranking (a long tail: the top 1 % of products take a large
  share of the lines, most products sell a few times a year or never); each category has a base price
  (log-normal) and each product a price tier (budget ×0.5, mid ×1, premium ×2.5) times a small spread.
  A share of the categories is seasonal (it sells mostly in October–December).
* **Customers** (``n_customers``): activity is log-normal (a few very frequent shoppers, many who buy
  once or twice); each customer has 1–3 favourite categories and a personal set of ``favourites``
  products drawn from them. A share of the baskets has no customer (guests; empty ``Customer ID``).
* **Baskets**: each line of a basket is, by the customer's own mix, a *repeat* (one of the customer's
  favourites), a *category exploration* (a popular product of a favourite category) or a *global
  exploration* (any product by popularity). Basket sizes are ``basket_min``–``basket_max`` lines
  (shifted negative binomial around ``basket_mean``); quantities are small retail counts or
  wholesale packs (1, 2, 3, 4, 6, 12, 24, 48, 96, …).
* **Time**: ``days`` days from ``start``; the daily volume follows a weekly pattern and an annual
  peak in late November (``seasonality`` is the peak's height over the trough); shops are open 7–20 h.
* **Promotions**: ``promotions`` one-week promotions a year, each on one category, with a discount
  (``promo_discount``) on its prices and ``promo_share`` of the global explorations in that week going
  to the promoted category.
* **Cancellations**: ``cancel_share`` of the lines come back later as a ``C``-invoice with the
  negative quantity (the real file's convention).

Presets (:data:`PRESETS`)
-------------------------
``retail-small-baskets``
    100k products, 1M customers, 20M lines in one year: many small, frequent baskets (5–40 lines,
    mean 12), quantities mostly 1–3, strong repeat behaviour, 15 % guest baskets.
``wholesale``
    Like the demo data (Online Retail II): 4,500 products, 5,000 customers, ~500k lines a year in
    baskets of 1–300 lines (mean 22), pack quantities, 2 % cancellations, most customers in one country.

API (for the other benches and their tests)
-------------------------------------------
::

    from bench.synth import PRESETS, generate, write_csv, to_interactions
    spec = PRESETS["retail-small-baskets"].scaled(n_products=10_000, n_customers=50_000, n_lines=500_000)
    shop = generate(spec, seed=0)      # a Shop: numpy column arrays (see Shop) and the Catalogue
    shop.frame()                       # a pandas DataFrame in the Online Retail II layout (strings)
    write_csv(shop, "var/synth.csv.gz")
    to_interactions(shop)              # personalization.ml.base.Interactions of the purchases (no guests,
                                       # no cancellations), users and items as 0-based codes

``generate`` is deterministic in ``(spec, seed)``. Sizes are exact for products and customers and
within one basket of ``n_lines`` for lines (plus the cancellation lines).

CLI::

    python bench/synth.py --preset retail-small-baskets --out var/synth-retail.csv.gz
    python bench/synth.py --preset wholesale --seed 1 --out var/synth-wholesale.csv.gz
    python bench/synth.py --preset retail-small-baskets --products 10000 --customers 50000 \\
        --lines 500000 --out var/synth-10k.csv.gz

No Django here: the module imports numpy and pandas only (``to_interactions`` imports the ``ml`` package).
"""
from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import functools
import gzip
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

COLUMNS = ["Invoice", "StockCode", "Description", "Quantity", "InvoiceDate", "Price", "Customer ID", "Country"]
WHOLESALE_PACKS = np.array([1, 2, 3, 4, 6, 8, 10, 12, 24, 25, 36, 48, 72, 96, 100, 144, 288, 480])
WHOLESALE_PACK_WEIGHTS = np.array([18, 14, 8, 8, 12, 4, 4, 14, 7, 3, 2, 2, 1, 1, 1, 0.6, 0.3, 0.1])
CATEGORY_WORDS = ("MUG", "CANDLE", "BAG", "CARD", "TOY", "GARDEN", "FRAME", "NECKLACE", "PARTY", "CUSHION", "PLATE",
                  "NOTEBOOK", "LANTERN", "PURSE", "PUZZLE", "VASE", "EASTER", "TIN", "CLOCK", "RIBBON")
TIER_MULTIPLIERS = np.array([0.5, 1.0, 2.5])
TIER_WEIGHTS = np.array([0.5, 0.35, 0.15])


@dataclass(frozen=True)
class ShopSpec:
    """What a synthetic shop looks like (see the module docstring for the model)."""

    name: str
    n_products: int
    n_customers: int
    n_lines: int
    start: dt.date = dt.date(2025, 1, 1)
    days: int = 365
    popularity_exponent: float = 1.0  # Zipf exponent of product popularity (higher: shorter head, longer tail)
    products_per_category: int = 200
    seasonal_category_share: float = 0.1
    basket_min: int = 5
    basket_max: int = 40
    basket_mean: float = 12.0
    wholesale_quantities: bool = False
    repeat_share: float = 0.45  # mean share of a basket's lines that are the customer's favourites
    category_share: float = 0.35  # ... that explore a favourite category (the rest explore the catalogue)
    favourites: int = 12
    activity_sigma: float = 1.2  # log-normal spread of how often customers shop
    guest_share: float = 0.15
    cancel_share: float = 0.0
    seasonality: float = 2.0  # late-November daily volume over the summer trough
    promotions: int = 12  # one-week promotions a year
    promo_discount: float = 0.2
    promo_share: float = 0.3
    countries: tuple[str, ...] = ("United Kingdom",)
    country_weights: tuple[float, ...] = (1.0,)

    def scaled(self, **sizes: Any) -> ShopSpec:
        """The same shop with other sizes or settings (``n_products=``, ``n_lines=``, ``days=`` …)."""
        return dataclasses.replace(self, **sizes)

    def check(self) -> None:
        """Raise ValueError for a spec that cannot be generated."""
        if min(self.n_products, self.n_customers, self.n_lines, self.days) < 1:
            raise ValueError("n_products, n_customers, n_lines and days must be at least 1.")
        if not 1 <= self.basket_min <= self.basket_mean <= self.basket_max:
            raise ValueError("need 1 <= basket_min <= basket_mean <= basket_max.")
        if not 0 <= self.repeat_share + self.category_share <= 1:
            raise ValueError("repeat_share + category_share must lie in [0, 1].")
        if len(self.countries) != len(self.country_weights):
            raise ValueError("one weight per country.")


PRESETS: dict[str, ShopSpec] = {
    "retail-small-baskets": ShopSpec(
        name="retail-small-baskets", n_products=100_000, n_customers=1_000_000, n_lines=20_000_000,
        basket_min=5, basket_max=40, basket_mean=12.0, repeat_share=0.45, category_share=0.35,
        guest_share=0.15, cancel_share=0.0, promotions=24,
    ),
    "wholesale": ShopSpec(
        name="wholesale", n_products=4_500, n_customers=5_000, n_lines=500_000, popularity_exponent=0.8,
        products_per_category=60, basket_min=1, basket_max=300, basket_mean=22.0, wholesale_quantities=True,
        repeat_share=0.35, category_share=0.3, favourites=40, activity_sigma=1.0, guest_share=0.1,
        cancel_share=0.02, seasonality=2.5, promotions=6, promo_discount=0.1, promo_share=0.15,
        countries=("United Kingdom", "Germany", "France", "EIRE", "Netherlands", "Spain"),
        country_weights=(0.9, 0.025, 0.025, 0.02, 0.015, 0.015),
    ),
}


@dataclass
class Catalogue:
    """Products as arrays indexed by product code 0..n-1 (sorted by category)."""

    category: np.ndarray  # int32
    price: np.ndarray  # float64, GBP
    popularity: np.ndarray  # float64, sums to 1
    seasonal_categories: np.ndarray  # int32
    category_start: np.ndarray  # first product of each category (products are sorted by category)

    @property
    def size(self) -> int:
        return int(self.category.size)

    @functools.cached_property
    def stock_codes(self) -> np.ndarray:
        """Five digits, then a letter suffix past 90,000 products (``10000`` … ``99999``, ``10000A`` …), as in the
        real file (the importers take codes that start with five digits as products)."""
        return np.array([f"{10_000 + i % 90_000}{_letters(i // 90_000)}" for i in range(self.size)], dtype=object)

    @functools.cached_property
    def descriptions(self) -> np.ndarray:
        """``<WORD> <category> ITEM <code>``: the word is one the demo's keyword categories know (CHRISTMAS for
        the seasonal categories), so content features see the categories."""
        seasonal = set(self.seasonal_categories.tolist())
        names = ["CHRISTMAS" if c in seasonal else CATEGORY_WORDS[c % len(CATEGORY_WORDS)]
                 for c in range(self.category_start.size - 1)]
        return np.array([f"{names[c]} {c} ITEM {i}" for i, c in enumerate(self.category.tolist())], dtype=object)


def _letters(n: int) -> str:
    """0 -> "", 1 -> "A", 26 -> "Z", 27 -> "AA" …"""
    out = ""
    while n:
        n, rest = divmod(n - 1, 26)
        out = chr(65 + rest) + out
    return out


@dataclass
class Shop:
    """The generated lines, one array entry per line, in invoice (time) order; ``customer`` -1 is a guest."""

    spec: ShopSpec
    seed: int
    catalogue: Catalogue
    invoice: np.ndarray  # int64 invoice number (cancellations: their own numbers, flagged by ``cancelled``)
    cancelled: np.ndarray  # bool
    product: np.ndarray  # int32 product code
    quantity: np.ndarray  # int32 (negative on cancellations)
    timestamp: np.ndarray  # datetime64[s]
    price: np.ndarray  # float64
    customer: np.ndarray  # int64, -1 for guests
    country: np.ndarray  # int16 index into spec.countries

    def __len__(self) -> int:
        return int(self.invoice.size)

    def frame(self, lo: int = 0, hi: int | None = None) -> pd.DataFrame:
        """Lines ``lo:hi`` in the Online Retail II layout (strings, as in the CSV)."""
        part = slice(lo, hi)
        invoice = self.invoice[part].astype(str)
        invoice = np.where(self.cancelled[part], np.char.add("C", invoice), invoice)
        customer = self.customer[part]
        return pd.DataFrame({
            "Invoice": invoice,
            "StockCode": self.catalogue.stock_codes[self.product[part]],
            "Description": self.catalogue.descriptions[self.product[part]],
            "Quantity": self.quantity[part],
            "InvoiceDate": np.char.replace(np.datetime_as_string(self.timestamp[part], unit="s"), "T", " "),
            "Price": np.round(self.price[part], 2),
            "Customer ID": np.where(customer >= 0, (customer + 10_000).astype(str), ""),
            "Country": np.asarray(self.spec.countries)[self.country[part]],
        }, columns=COLUMNS)


def _within_category(rng: np.random.Generator, catalogue: Catalogue, cumulative: np.ndarray,
                     categories: np.ndarray) -> np.ndarray:
    """One product per entry of ``categories``, by popularity within that category (vectorised)."""
    lo = catalogue.category_start[categories]
    hi = catalogue.category_start[categories + 1]
    base = np.where(lo > 0, cumulative[np.maximum(lo - 1, 0)], 0.0)
    top = cumulative[hi - 1]
    picks = np.searchsorted(cumulative, base + rng.random(categories.size) * (top - base), side="right")
    return np.clip(picks, lo, hi - 1).astype(np.int32)


def make_catalogue(spec: ShopSpec, rng: np.random.Generator) -> Catalogue:
    """Categories, prices and popularity of ``spec.n_products`` products."""
    n = spec.n_products
    n_categories = max(1, min(n, round(n / spec.products_per_category)))
    category_weight = 1.0 / np.arange(1, n_categories + 1) ** 0.7
    sizes = np.maximum(1, np.floor(category_weight / category_weight.sum() * n)).astype(np.int64)
    sizes[0] += n - sizes.sum()  # exact total
    while sizes[0] < 1:  # more categories than the largest could absorb: take from the others
        donor = int(np.argmax(sizes[1:])) + 1
        sizes[donor] -= 1
        sizes[0] += 1
    category = np.repeat(np.arange(n_categories, dtype=np.int32), sizes)
    category_start = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    base_price = np.exp(rng.normal(np.log(2.5), 0.9, n_categories))
    tier = rng.choice(3, size=n, p=TIER_WEIGHTS)
    price = base_price[category] * TIER_MULTIPLIERS[tier] * np.exp(rng.normal(0.0, 0.25, n))
    price = np.maximum(0.05, np.round(price * 20) / 20)
    popularity = 1.0 / (rng.permutation(n) + 1.0) ** spec.popularity_exponent
    popularity /= popularity.sum()
    n_seasonal = int(round(spec.seasonal_category_share * n_categories))
    seasonal = np.sort(rng.choice(n_categories, size=n_seasonal, replace=False)).astype(np.int32)
    return Catalogue(category, price, popularity, seasonal, category_start)


def _daily_volume(spec: ShopSpec, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Each day's share of the baskets (weekly pattern x annual peak) and its promoted category (-1: none)."""
    days = np.arange(spec.days)
    dates = np.datetime64(spec.start.isoformat()) + days.astype("timedelta64[D]")
    day_of_year = (dates - dates.astype("datetime64[Y]")).astype(int)
    weekday = (dates.astype("datetime64[D]").view("int64") - 4) % 7  # 1970-01-01 was a Thursday: 0 = Monday
    weekly = np.array([1.0, 1.05, 1.05, 1.1, 1.0, 0.85, 0.7])[weekday]
    peak = 0.5 * (1 + np.cos(2 * np.pi * (day_of_year - 330) / 365.25))  # 1 in late November, 0 in late May
    annual = 1.0 + (spec.seasonality - 1.0) * peak
    weight = weekly * annual
    return weight / weight.sum(), day_of_year


def generate(spec: ShopSpec, seed: int = 0) -> Shop:
    """The lines of the shop ``spec`` describes (deterministic in ``spec`` and ``seed``)."""
    spec.check()
    rng = np.random.default_rng([seed, spec.n_products, spec.n_customers, spec.n_lines])
    catalogue = make_catalogue(spec, rng)
    cumulative = np.cumsum(catalogue.popularity)
    cumulative[-1] = 1.0
    n_categories = catalogue.category_start.size - 1
    category_popularity = np.add.reduceat(catalogue.popularity, catalogue.category_start[:-1])

    # customers: activity, favourite categories and products, their mix of repeat and exploration
    activity = np.exp(rng.normal(0.0, spec.activity_sigma, spec.n_customers))
    activity /= activity.sum()
    favourite_categories = rng.choice(n_categories, size=(spec.n_customers, 3), p=category_popularity)
    n_favourite_categories = rng.integers(1, 4, spec.n_customers)
    slot = rng.integers(0, n_favourite_categories[:, None], (spec.n_customers, spec.favourites))
    favourites = _within_category(
        rng, catalogue, cumulative, np.take_along_axis(favourite_categories, slot, axis=1).ravel()
    ).reshape(spec.n_customers, spec.favourites)
    repeat_share = rng.beta(2.0, 2.0 * (1 - spec.repeat_share) / max(spec.repeat_share, 1e-6), spec.n_customers) \
        if spec.repeat_share > 0 else np.zeros(spec.n_customers)
    explore_rest = 1.0 - repeat_share
    category_share = explore_rest * (spec.category_share / max(1e-9, 1.0 - spec.repeat_share))
    country = rng.choice(len(spec.countries), size=spec.n_customers, p=np.asarray(spec.country_weights) /
                         sum(spec.country_weights)).astype(np.int16)

    # baskets: sizes, who, when
    extra_mean = spec.basket_mean - spec.basket_min
    n_baskets = int(np.ceil(spec.n_lines / spec.basket_mean * 1.05)) + 1
    if extra_mean > 0:
        dispersion = 2.0
        sizes = spec.basket_min + rng.negative_binomial(dispersion, dispersion / (dispersion + extra_mean), n_baskets)
    else:
        sizes = np.full(n_baskets, spec.basket_min)
    sizes = np.minimum(sizes, spec.basket_max)
    ends = np.cumsum(sizes)
    n_baskets = int(np.searchsorted(ends, spec.n_lines) + 1)
    sizes = sizes[:n_baskets]
    basket_customer = rng.choice(spec.n_customers, size=n_baskets, p=activity)
    guest = rng.random(n_baskets) < spec.guest_share
    day_weight, day_of_year = _daily_volume(spec, rng)
    basket_day = np.sort(rng.choice(spec.days, size=n_baskets, p=day_weight))
    basket_seconds = basket_day.astype(np.int64) * 86_400 + rng.integers(7 * 3600, 20 * 3600, n_baskets)
    basket_seconds.sort()

    # promotions: a week each, one category each
    promo_of_day = np.full(spec.days, -1, dtype=np.int64)
    n_promos = int(round(spec.promotions * spec.days / 365))
    if n_promos:
        starts = np.sort(rng.choice(max(1, spec.days - 7), size=min(n_promos, max(1, spec.days // 7)), replace=False))
        for start, promo_category in zip(starts, rng.choice(n_categories, size=starts.size, p=category_popularity),
                                         strict=True):
            promo_of_day[start:start + 7] = promo_category

    # lines
    line_basket = np.repeat(np.arange(n_baskets), sizes)
    customer = basket_customer[line_basket]
    n = line_basket.size
    kind = rng.random(n)
    repeat = kind < repeat_share[customer]
    by_category = ~repeat & (kind < repeat_share[customer] + category_share[customer])
    explore = ~repeat & ~by_category
    product = np.empty(n, dtype=np.int32)
    product[repeat] = favourites[customer[repeat], rng.integers(0, spec.favourites, int(repeat.sum()))]
    picked = customer[by_category]
    product[by_category] = _within_category(
        rng, catalogue, cumulative,
        favourite_categories[picked, rng.integers(0, n_favourite_categories[picked])])
    explore_idx = np.flatnonzero(explore)
    product[explore_idx] = np.minimum(np.searchsorted(cumulative, rng.random(explore_idx.size), side="right"),
                                      spec.n_products - 1)
    line_day = basket_seconds[line_basket] // 86_400
    promo = promo_of_day[line_day]
    if catalogue.seasonal_categories.size:  # seasonal categories take explorations in Oct-Dec
        in_season = (day_of_year[line_day[explore_idx]] >= 273) & (rng.random(explore_idx.size) < 0.25)
        chosen = explore_idx[in_season]
        product[chosen] = _within_category(
            rng, catalogue, cumulative, rng.choice(catalogue.seasonal_categories, size=chosen.size))
    to_promo = explore_idx[(promo[explore_idx] >= 0) & (rng.random(explore_idx.size) < spec.promo_share)]
    product[to_promo] = _within_category(rng, catalogue, cumulative, promo[to_promo])
    price = catalogue.price[product]
    promoted = (promo >= 0) & (catalogue.category[product] == promo)
    price = np.where(promoted, np.maximum(0.05, np.round(price * (1 - spec.promo_discount) * 20) / 20), price)
    if spec.wholesale_quantities:
        quantity = rng.choice(WHOLESALE_PACKS, size=n, p=WHOLESALE_PACK_WEIGHTS / WHOLESALE_PACK_WEIGHTS.sum())
    else:
        quantity = 1 + rng.geometric(0.65, n) - 1
    quantity = quantity.astype(np.int32)
    line_customer = np.where(guest[line_basket], -1, customer).astype(np.int64)
    invoice = (100_000 + line_basket).astype(np.int64)
    timestamp = (np.datetime64(spec.start.isoformat(), "s") + basket_seconds[line_basket].astype("timedelta64[s]"))
    cancelled = np.zeros(n, dtype=bool)
    line_country = country[customer]

    if spec.cancel_share > 0:  # C-invoices: copies of some lines, later, with negative quantities
        back = np.flatnonzero(rng.random(n) < spec.cancel_share)
        delay = rng.integers(3600, 30 * 86_400, back.size).astype("timedelta64[s]")
        end = np.datetime64(spec.start.isoformat(), "s") + np.timedelta64(spec.days * 86_400 - 1, "s")
        back_time = np.minimum(timestamp[back] + delay, end)
        back_invoice = invoice[-1] + 1 + rng.permutation(back.size) // 2  # about two lines per cancellation
        order = np.argsort(np.concatenate([timestamp, back_time]), kind="stable")
        invoice = np.concatenate([invoice, back_invoice])[order]
        cancelled = np.concatenate([cancelled, np.ones(back.size, dtype=bool)])[order]
        product = np.concatenate([product, product[back]])[order]
        quantity = np.concatenate([quantity, -quantity[back]])[order]
        timestamp = np.concatenate([timestamp, back_time])[order]
        price = np.concatenate([price, price[back]])[order]
        line_customer = np.concatenate([line_customer, line_customer[back]])[order]
        line_country = np.concatenate([line_country, line_country[back]])[order]
    return Shop(spec, seed, catalogue, invoice, cancelled, product, quantity, timestamp, price, line_customer,
                line_country)


def write_csv(shop: Shop, path: str | Path, *, chunk: int = 1_000_000, compresslevel: int = 3) -> Path:
    """Write the shop as a gzipped CSV in the Online Retail II layout; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt", compresslevel=compresslevel, newline="") as handle:
        for lo in range(0, max(len(shop), 1), chunk):
            shop.frame(lo, lo + chunk).to_csv(handle, index=False, header=lo == 0)
    return path


def to_interactions(shop: Shop):
    """The shop's purchases by known customers (no cancellations) as ``Interactions`` (users, items 0-based)."""
    from personalization.ml.base import Interactions

    keep = (shop.customer >= 0) & ~shop.cancelled
    users, user_codes = np.unique(shop.customer[keep], return_inverse=True)
    seconds = shop.timestamp[keep].astype("int64")
    return Interactions(user_codes, shop.product[keep].astype(np.int64), int(users.size), shop.catalogue.size,
                        timestamps=seconds, quantities=shop.quantity[keep].astype(np.float64),
                        now=int(seconds.max()) + 1 if seconds.size else None)


def describe(shop: Shop) -> dict[str, float]:
    """A few figures to check a generated shop against its spec."""
    sales = ~shop.cancelled
    _, basket_sizes = np.unique(shop.invoice[sales], return_counts=True)
    counts = np.bincount(shop.product[sales], minlength=shop.catalogue.size)
    top = np.sort(counts)[::-1]
    known = shop.customer[sales] >= 0
    return {
        "lines": float(len(shop)), "baskets": float(basket_sizes.size),
        "basket_mean": float(basket_sizes.mean()), "basket_max": float(basket_sizes.max()),
        "products_sold": float((counts > 0).sum()),
        "top_1pct_share": float(top[: max(1, top.size // 100)].sum() / max(1, top.sum())),
        "customers": float(np.unique(shop.customer[sales][known]).size),
        "guest_share": float(1 - known.mean()), "cancel_share": float(shop.cancelled.mean()),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", choices=sorted(PRESETS), default="retail-small-baskets")
    parser.add_argument("--products", type=int)
    parser.add_argument("--customers", type=int)
    parser.add_argument("--lines", type=int)
    parser.add_argument("--days", type=int)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", required=True, help="the CSV.gz to write")
    args = parser.parse_args(argv)
    sizes = {name: value for name, value in (("n_products", args.products), ("n_customers", args.customers),
                                             ("n_lines", args.lines), ("days", args.days)) if value is not None}
    spec = PRESETS[args.preset].scaled(**sizes)
    try:
        spec.check()
    except ValueError as exc:
        parser.error(str(exc))
    started = time.perf_counter()
    shop = generate(spec, args.seed)
    generated = time.perf_counter() - started
    write_csv(shop, args.out)
    print(f"{args.preset} seed {args.seed}: {len(shop):,} lines generated in {generated:.1f} s, written to "
          f"{args.out} in {time.perf_counter() - started - generated:.1f} s", file=sys.stderr)
    print(describe(shop), file=sys.stderr)


if __name__ == "__main__":
    main()
