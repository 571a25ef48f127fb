"""Recency / frequency / monetary quintile scores and the named RFM segments (no Django).

Scores follow the empirical distribution of one population: a customer's score is
``1 + floor(5 * share of customers with a strictly smaller value)``, so ties always share a score
and a value can be scored later from four stored cut points alone (``RFMScorer.cuts_``). Recency
is reversed: the fewer days since the last purchase, the higher the score.

Segments use the score-range rules of the R package ``rfm`` (rsquaredacademy/rfm,
``rfm_segment()`` documentation example since version 0.3): rules are tried in order, the first
whose three ranges all contain the customer's scores wins, and a customer no rule matches is
``"Others"``. (The older 0.2 example listed the same names in another order with other ranges, under
which "New Customers", "Promising" and "Can't Lose Them" could never be reached.)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

N_BINS = 5
OTHERS = "Others"


@dataclass(frozen=True)
class SegmentRule:
    """Inclusive score ranges of one named segment."""

    name: str
    recency: tuple[int, int]
    frequency: tuple[int, int]
    monetary: tuple[int, int]


SEGMENT_RULES: tuple[SegmentRule, ...] = (
    SegmentRule("Champions", (5, 5), (5, 5), (5, 5)),
    SegmentRule("Potential Loyalist", (3, 5), (3, 5), (2, 5)),
    SegmentRule("Loyal Customers", (2, 4), (2, 4), (2, 4)),
    SegmentRule("Promising", (3, 4), (1, 3), (3, 5)),
    SegmentRule("New Customers", (4, 5), (1, 3), (1, 5)),
    SegmentRule("Can't Lose Them", (1, 2), (3, 4), (4, 5)),
    SegmentRule("At Risk", (1, 2), (2, 5), (4, 5)),
    SegmentRule("Need Attention", (1, 3), (3, 5), (3, 5)),
    SegmentRule("About To Sleep", (2, 3), (1, 3), (1, 4)),
    SegmentRule("Lost", (1, 1), (1, 5), (1, 5)),
)
SEGMENT_NAMES: tuple[str, ...] = tuple(rule.name for rule in SEGMENT_RULES) + (OTHERS,)


def score_cuts(values: npt.ArrayLike, n_bins: int = N_BINS) -> npt.NDArray[np.float64]:
    """The ``n_bins - 1`` cut points that turn values into scores (see :func:`apply_cuts`).

    ``cuts[s - 2]`` is the largest value that still scores below ``s``: the value of rank
    ``ceil((s - 1) * n / n_bins)`` in ascending order.
    """
    ordered = np.sort(np.asarray(values, dtype=np.float64))
    n = ordered.size
    if n == 0:
        raise ValueError("Cannot score an empty population.")
    ranks = np.ceil(np.arange(1, n_bins) * n / n_bins).astype(np.int64)
    return ordered[np.clip(ranks - 1, 0, n - 1)]


def apply_cuts(values: npt.ArrayLike, cuts: npt.ArrayLike) -> npt.NDArray[np.int8]:
    """Scores 1..len(cuts)+1: one plus the number of cut points strictly below each value."""
    below = np.searchsorted(np.asarray(cuts, dtype=np.float64), np.asarray(values, dtype=np.float64), side="left")
    return (1 + below).astype(np.int8)


def quintile_scores(values: npt.ArrayLike, *, reverse: bool = False, n_bins: int = N_BINS) -> npt.NDArray[np.int8]:
    """Scores 1..n_bins of a population; ``reverse`` gives the smallest values the highest score."""
    signed = -np.asarray(values, dtype=np.float64) if reverse else np.asarray(values, dtype=np.float64)
    return apply_cuts(signed, score_cuts(signed, n_bins))


def rfm_segments(
    recency_score: npt.ArrayLike,
    frequency_score: npt.ArrayLike,
    monetary_score: npt.ArrayLike,
    rules: tuple[SegmentRule, ...] = SEGMENT_RULES,
) -> npt.NDArray[np.object_]:
    """Name of the first rule whose ranges contain each customer's three scores, else ``"Others"``."""
    r = np.asarray(recency_score)
    f = np.asarray(frequency_score)
    m = np.asarray(monetary_score)
    names = np.full(r.shape, OTHERS, dtype=object)
    unassigned = np.ones(r.shape, dtype=bool)
    for rule in rules:
        hit = (
            unassigned
            & (r >= rule.recency[0])
            & (r <= rule.recency[1])
            & (f >= rule.frequency[0])
            & (f <= rule.frequency[1])
            & (m >= rule.monetary[0])
            & (m <= rule.monetary[1])
        )
        names[hit] = rule.name
        unassigned &= ~hit
    return names


class RFMScorer:
    """Learns the quintile cut points of one population and scores customers against them.

    ``fit(recency_days, frequency, monetary) -> self`` stores ``cuts_`` (a dict of three arrays of
    four cut points); ``transform`` returns the three score arrays; ``segment`` names the segments.
    Scoring a single new customer later (an incremental update) needs only the stored cuts.
    """

    def __init__(self, n_bins: int = N_BINS, rules: tuple[SegmentRule, ...] = SEGMENT_RULES):
        self.n_bins = n_bins
        self.rules = rules

    def fit(self, recency_days: npt.ArrayLike, frequency: npt.ArrayLike, monetary: npt.ArrayLike) -> RFMScorer:
        self.cuts_ = {
            # recency is scored on minus the days, so that the most recent customers score highest
            "recency": score_cuts(-np.asarray(recency_days, dtype=np.float64), self.n_bins),
            "frequency": score_cuts(frequency, self.n_bins),
            "monetary": score_cuts(monetary, self.n_bins),
        }
        return self

    @classmethod
    def from_cuts(cls, cuts: dict[str, list[float]], n_bins: int = N_BINS) -> RFMScorer:
        """A fitted scorer from cut points stored earlier (``cuts_`` as lists)."""
        scorer = cls(n_bins=n_bins)
        scorer.cuts_ = {key: np.asarray(value, dtype=np.float64) for key, value in cuts.items()}
        return scorer

    def transform(
        self, recency_days: npt.ArrayLike, frequency: npt.ArrayLike, monetary: npt.ArrayLike
    ) -> tuple[npt.NDArray[np.int8], npt.NDArray[np.int8], npt.NDArray[np.int8]]:
        return (
            apply_cuts(-np.asarray(recency_days, dtype=np.float64), self.cuts_["recency"]),
            apply_cuts(frequency, self.cuts_["frequency"]),
            apply_cuts(monetary, self.cuts_["monetary"]),
        )

    def segment(
        self, recency_days: npt.ArrayLike, frequency: npt.ArrayLike, monetary: npt.ArrayLike
    ) -> npt.NDArray[np.object_]:
        return rfm_segments(*self.transform(recency_days, frequency, monetary), rules=self.rules)

    def cuts_as_lists(self) -> dict[str, list[float]]:
        """``cuts_`` in a JSON-friendly shape."""
        return {key: [float(v) for v in value] for key, value in self.cuts_.items()}
