"""Offline evaluation of top-N recommenders, PROTOCOL §1 exactly, without Django.

Everything works on a pandas DataFrame of purchase rows with the columns ``user``, ``item``,
``timestamp``, ``quantity``, ``price`` (one row per order line), plus an item table with ``item``,
``name``, ``category``, ``price``. :func:`clean_online_retail` turns the raw UCI CSV into such rows;
a management command can instead feed rows read from the database.

- Clean: customer present; invoice not starting with ``C``/``A``; quantity > 0; price > 0; stock code
  upper-cased; products only (stock code starts with 5 digits).
- Split: train = timestamp < cutoff; test = cutoff <= timestamp < cutoff + 30 days.
- Users evaluated: a purchase in train and one in test.
- Catalogue: every item sold before the end of the test window (items first sold in the window can be
  recommended: their content is known).
- Task ``all``: relevant = distinct items the user buys in test. Task ``new``: relevant = test items
  the user never bought in train, train purchases removed from the ranked list, users without such
  items skipped.
- Metrics over the full catalogue: Recall@20 = hits / min(20, |relevant|), NDCG@20 with binary
  gains, HR@10, and catalogue coverage of the top-20 lists.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .base import Interactions, ItemFeatures

TASKS = ("all", "new")
TRANSACTION_COLUMNS = ("user", "item", "timestamp", "quantity", "price")
_PRODUCT_CODE = re.compile(r"^\d{5}")

# Raw column names of the UCI "Online Retail" CSV, and of "Online Retail II".
_RAW_COLUMNS = {
    "InvoiceNo": "invoice", "Invoice": "invoice",
    "StockCode": "item",
    "Description": "description",
    "Quantity": "quantity",
    "InvoiceDate": "timestamp",
    "UnitPrice": "price", "Price": "price",
    "CustomerID": "user", "Customer ID": "user",
    "Country": "country",
}

# First matching keyword wins, so seasonal and specific groups come before broad ones.
_CATEGORY_KEYWORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Christmas", ("CHRISTMAS", "XMAS", "ADVENT", "SANTA", "REINDEER", "SNOWFLAKE", "SNOWMAN", "BAUBLE")),
    ("Easter", ("EASTER", "BUNNY", "CHICK")),
    ("Jewellery", ("NECKLACE", "BRACELET", "EARRINGS", "RING", "CHARM", "BEAD", "BEADS", "DIAMANTE",
                   "BROOCH", "HAIR", "BLING")),
    ("Candles & lights", ("CANDLE", "CANDLES", "T-LIGHT", "T-LIGHTS", "CANDLEHOLDER", "LANTERN", "LIGHTS",
                          "LIGHT", "LAMP", "LAMPSHADE")),
    ("Bags & purses", ("BAG", "BAGS", "HANDBAG", "WASHBAG", "PURSE", "SHOPPER", "TOTE")),
    ("Party", ("PARTY", "BUNTING", "GARLAND", "BALLOON", "BALLOONS", "BIRTHDAY", "DOILY", "DOILIES",
               "CASES", "NAPKINS", "STRAWS")),
    ("Stationery & cards", ("CARD", "CARDS", "NOTEBOOK", "SKETCHBOOK", "PEN", "PENS", "PENCIL", "PENCILS",
                            "WRAP", "STICKERS", "STICKER", "TAPE", "PAPER", "TAG", "TAGS", "ENVELOPE",
                            "BOOK", "RIBBON", "RIBBONS", "CHALK")),
    ("Kitchen & dining", ("MUG", "MUGS", "CUP", "CUPS", "SAUCER", "PLATE", "PLATES", "BOWL", "BOWLS",
                          "CUTLERY", "TEA", "BEAKER", "JAR", "JARS", "TRAY", "DISH", "TIN", "TINS", "CAKE",
                          "LUNCH", "PANTRY", "KITCHEN", "APRON", "BAKING", "JUG", "BOTTLE", "COASTER",
                          "COASTERS", "SPOON", "SPOONS", "TEAPOT")),
    ("Toys & kids", ("TOY", "TOYS", "DOLLY", "DOLL", "GAME", "PUZZLE", "JIGSAW", "CHILDRENS", "SPACEBOY",
                     "SOLDIER", "MAGIC", "BLOCK", "SKIPPING", "FELTCRAFT", "CRAYONS", "PLAYHOUSE", "KIT")),
    ("Garden", ("GARDEN", "PARASOL", "UMBRELLA", "BIRD", "PLANT", "WATERING", "POT", "POTS", "FLOWERPOT")),
    ("Home decor", ("FRAME", "MIRROR", "CLOCK", "SIGN", "HOOK", "HOOKS", "CUSHION", "DOORMAT", "CABINET",
                    "DRAWER", "HANGER", "DOORSTOP", "CURTAIN", "VASE", "BASKET", "TILE", "DECORATION",
                    "WALL", "PLAQUE", "STAND", "RACK", "COVER", "HEART", "ORNAMENT")),
)
OTHER_CATEGORY = "Other"


def read_online_retail(path: str) -> pd.DataFrame:
    """The raw UCI CSV (gzip or plain) read as documented in ``data/SOURCE.md``."""
    return pd.read_csv(path, dtype={"InvoiceNo": str, "Invoice": str, "StockCode": str},
                       keep_default_na=False, na_values=[""])


def clean_online_retail(raw: pd.DataFrame) -> pd.DataFrame:
    """The protocol's cleaning rules applied to rows with the UCI CSV's columns.

    Accepts both the "Online Retail" and "Online Retail II" headers. Returns one row per order line
    with ``user`` (int64), ``item`` (upper-cased stock code), ``timestamp`` (datetime64),
    ``quantity``, ``price``, ``invoice`` and ``description``, sorted by timestamp.
    """
    df = raw.rename(columns=_RAW_COLUMNS)
    missing = {"invoice", "item", "quantity", "timestamp", "price", "user"} - set(df.columns)
    if missing:
        raise ValueError(f"transactions lack the columns {sorted(missing)}")
    invoice = df["invoice"].astype(str)
    keep = (
        df["user"].notna()
        & ~invoice.str.startswith(("C", "A"))
        & (df["quantity"] > 0)
        & (df["price"] > 0)
    )
    df = df.loc[keep].copy()
    df["item"] = df["item"].astype(str).str.upper()
    df = df.loc[df["item"].str.match(_PRODUCT_CODE)]
    df["user"] = df["user"].astype(np.int64)
    df["timestamp"] = pd.to_datetime(df["timestamp"])
    if "description" not in df.columns:
        df["description"] = ""
    columns = ["user", "item", "timestamp", "quantity", "price", "invoice", "description"]
    return df[columns].sort_values("timestamp", kind="stable").reset_index(drop=True)


def categorize(name: str) -> str:
    """A product category from its name by keyword (the retail data has no categories of its own)."""
    words = set(re.split(r"[^A-Z0-9\-]+", str(name).upper()))
    for category, keywords in _CATEGORY_KEYWORDS:
        if words.intersection(keywords):
            return category
    return OTHER_CATEGORY


def item_table(transactions: pd.DataFrame) -> pd.DataFrame:
    """One row per item: most frequent description as ``name``, keyword ``category``, median ``price``."""
    desc = transactions["description"].fillna("").astype(str).str.strip() \
        if "description" in transactions else pd.Series("", index=transactions.index)
    frame = pd.DataFrame({"item": transactions["item"], "name": desc, "price": transactions["price"]})
    named = frame[frame["name"] != ""]
    names = named.groupby("item")["name"].agg(lambda s: s.value_counts().index[0])
    prices = frame.groupby("item")["price"].median()
    table = pd.DataFrame({"price": prices})
    table["name"] = names.reindex(table.index).fillna("")
    table["category"] = table["name"].map(categorize)
    return table.reset_index()[["item", "name", "category", "price"]]


@dataclass
class Split:
    """One train / test split of the protocol with its id maps, ready to fit and evaluate on.

    ``users`` / ``items`` map contiguous ids back to the shop's ids (position = id). ``train`` holds the
    train purchases as :class:`Interactions` with ``now`` = the cutoff. ``relevant[task]`` is a list of
    arrays of relevant item ids aligned with ``eval_users[task]``.
    """

    cutoff: pd.Timestamp
    end: pd.Timestamp
    users: np.ndarray
    items: np.ndarray
    train: Interactions
    train_frame: pd.DataFrame
    test_frame: pd.DataFrame
    item_frame: pd.DataFrame
    eval_users: dict[str, np.ndarray] = field(default_factory=dict)
    relevant: dict[str, list[np.ndarray]] = field(default_factory=dict)

    @property
    def n_items(self) -> int:
        return int(self.items.size)

    def exclude_for(self, task: str) -> sp.csr_matrix | None:
        """What the ranked list must leave out in a task: the train purchases for ``new``, nothing else."""
        _check_task(task)
        return self.train.seen() if task == "new" else None


def _check_task(task: str) -> None:
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; expected one of {TASKS}")


def make_split(
    transactions: pd.DataFrame,
    cutoff: str | pd.Timestamp,
    window_days: int = 30,
    items: pd.DataFrame | None = None,
) -> Split:
    """Split cleaned transactions at ``cutoff`` with a test window of ``window_days`` days.

    ``items`` is the item table (``item``, ``name``, ``category``, ``price``); by default it is derived
    from the transactions before the end of the window.
    """
    cutoff = pd.Timestamp(cutoff)
    end = cutoff + pd.Timedelta(days=window_days)
    before_end = transactions[transactions["timestamp"] < end]
    train_frame = before_end[before_end["timestamp"] < cutoff]
    test_frame = before_end[before_end["timestamp"] >= cutoff]

    item_codes = np.array(sorted(before_end["item"].unique()), dtype=object)
    user_codes = np.array(sorted(train_frame["user"].unique()))
    item_index = pd.Index(item_codes)
    user_index = pd.Index(user_codes)

    table = items if items is not None else item_table(before_end)
    table = table.set_index("item").reindex(item_codes)
    features = ItemFeatures(
        names=[str(v) if isinstance(v, str) else "" for v in table["name"]],
        descriptions=None,
        categories=[str(v) if isinstance(v, str) else OTHER_CATEGORY for v in table["category"]],
        prices=table["price"].astype(float).fillna(float(table["price"].median())).to_numpy(),
    )
    train = Interactions(
        user_ids=user_index.get_indexer(train_frame["user"]),
        item_ids=item_index.get_indexer(train_frame["item"]),
        n_users=user_codes.size,
        n_items=item_codes.size,
        timestamps=train_frame["timestamp"].to_numpy(),
        quantities=train_frame["quantity"].to_numpy(dtype=np.float64),
        item_features=features,
        now=np.datetime64(cutoff, "s"),
    )
    split = Split(cutoff, end, user_codes, item_codes, train, train_frame, test_frame,
                  table.reset_index())

    test_known = test_frame[test_frame["user"].isin(user_index)]
    test_users = user_index.get_indexer(test_known["user"])
    test_items = item_index.get_indexer(test_known["item"])
    seen = train.seen()
    per_user = pd.DataFrame({"u": test_users, "i": test_items}).drop_duplicates()
    per_user = per_user.sort_values(["u", "i"])
    all_users, all_rel, new_users, new_rel = [], [], [], []
    for u, group in per_user.groupby("u", sort=True):
        rel = group["i"].to_numpy(dtype=np.int64)
        all_users.append(u)
        all_rel.append(rel)
        bought = seen.indices[seen.indptr[u]:seen.indptr[u + 1]]
        fresh = np.setdiff1d(rel, bought)
        if fresh.size:
            new_users.append(u)
            new_rel.append(fresh)
    split.eval_users = {"all": np.array(all_users, dtype=np.int64), "new": np.array(new_users, dtype=np.int64)}
    split.relevant = {"all": all_rel, "new": new_rel}
    return split


# --------------------------------------------------------------------------------------------- metrics
def hits_matrix(ranked: np.ndarray, relevant: Sequence[np.ndarray]) -> np.ndarray:
    """Boolean (users x k) matrix: is the item at each rank relevant to that user."""
    hits = np.zeros(ranked.shape, dtype=bool)
    for r, rel in enumerate(relevant):
        hits[r] = np.isin(ranked[r], rel) & (ranked[r] >= 0)
    return hits


def recall_at_k(ranked: np.ndarray, relevant: Sequence[np.ndarray], k: int = 20) -> float:
    """Mean over users of hits in the top ``k`` / min(k, number relevant)."""
    hits = hits_matrix(ranked[:, :k], relevant)
    denom = np.array([min(k, len(rel)) for rel in relevant], dtype=np.float64)
    return float(np.mean(hits.sum(axis=1) / denom)) if len(relevant) else 0.0


def ndcg_at_k(ranked: np.ndarray, relevant: Sequence[np.ndarray], k: int = 20) -> float:
    """Mean NDCG@k with binary gains: DCG = sum over hits of 1/log2(rank+1), ideal = min(k, |rel|) hits."""
    if not len(relevant):
        return 0.0
    hits = hits_matrix(ranked[:, :k], relevant)
    discounts = 1.0 / np.log2(np.arange(2, hits.shape[1] + 2))
    dcg = hits @ discounts
    ideal_cum = np.concatenate([[0.0], np.cumsum(1.0 / np.log2(np.arange(2, k + 2)))])
    idcg = ideal_cum[[min(k, len(rel)) for rel in relevant]]
    return float(np.mean(dcg / idcg))


def hit_rate_at_k(ranked: np.ndarray, relevant: Sequence[np.ndarray], k: int = 10) -> float:
    """Share of users with at least one relevant item in the top ``k``."""
    if not len(relevant):
        return 0.0
    return float(np.mean(hits_matrix(ranked[:, :k], relevant).any(axis=1)))


def coverage(ranked: np.ndarray, n_items: int, k: int = 20) -> float:
    """Share of the catalogue that appears in at least one top-``k`` list."""
    top = ranked[:, :k]
    return float(np.unique(top[top >= 0]).size / n_items) if n_items else 0.0


def metrics(ranked: np.ndarray, relevant: Sequence[np.ndarray], n_items: int) -> dict[str, float]:
    """The protocol's four figures for one ranked list per user."""
    return {
        "ndcg@20": ndcg_at_k(ranked, relevant, 20),
        "recall@20": recall_at_k(ranked, relevant, 20),
        "hr@10": hit_rate_at_k(ranked, relevant, 10),
        "coverage@20": coverage(ranked, n_items, 20),
    }


def evaluate(model: object, split: Split, task: str, k: int = 20) -> dict[str, float]:
    """Metrics of a fitted model on one task of a split.

    ``model`` is anything with ``recommend(user_ids, n, exclude=...) -> (item_ids, scores)`` fitted
    with ``split.train`` (or with the same id maps).
    """
    _check_task(task)
    users = split.eval_users[task]
    ranked, _ = model.recommend(users, n=k, exclude=split.exclude_for(task))  # type: ignore[attr-defined]
    result = metrics(ranked, split.relevant[task], split.n_items)
    result["users"] = float(users.size)
    return result
