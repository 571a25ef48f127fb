"""Price endings per price band (``.99`` under £100, ``.95`` above, whole pounds at the top, ...).

A :class:`PriceBand` says which ending prices *below* its ``upper`` bound must have; bands are
ordered by ``upper`` and each covers ``[previous upper, upper)``. An ending is one of

- ``"cents"``: any whole number of cents (no ending rule),
- ``"whole"``: whole currency units (``12``, ``13``),
- ``".x9"``: ten-cent steps ending in 9 (``1.19``, ``1.29``),
- ``".NN"``: whole units plus the two digits (``".99"`` gives ``9.99``, ``10.99``; ``".95"``, ``".90"``).

Prices are floats rounded to cents; every comparison allows a tolerance of :data:`EPS`. The helpers
find the conforming price nearest a target inside a window, the smallest conforming price at or
above a floor, and a geometric ladder of conforming prices (used by the strategies and the simulator).
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

EPS = 1e-9


@dataclass(frozen=True)
class PriceBand:
    """Prices below ``upper`` (and at or above the previous band's ``upper``) end in ``ending``."""

    upper: float
    ending: str = "cents"

    def __post_init__(self) -> None:
        if not self.upper > 0:
            raise ValueError(f"price band upper bound must be positive, got {self.upper!r}")
        ending_grid(self.ending)  # validates


def ending_grid(ending: str) -> tuple[float, float]:
    """The ``(step, offset)`` of an ending: conforming prices are ``k * step + offset`` for whole ``k``."""
    if ending == "cents":
        return 0.01, 0.0
    if ending == "whole":
        return 1.0, 0.0
    if ending == ".x9":
        return 0.10, 0.09
    if len(ending) == 3 and ending[0] == "." and ending[1:].isdigit():
        return 1.0, int(ending[1:]) / 100.0
    raise ValueError(f"unknown price ending {ending!r}: use 'cents', 'whole', '.x9' or '.NN' such as '.99'")


def _bands(bands: Sequence[PriceBand]) -> list[tuple[float, float, float, float]]:
    """``(lower, upper, step, offset)`` per band, the last one open-ended; no bands means cents."""
    ordered = sorted(bands, key=lambda b: b.upper)
    out: list[tuple[float, float, float, float]] = []
    lower = 0.0
    for band in ordered:
        step, offset = ending_grid(band.ending)
        out.append((lower, band.upper, step, offset))
        lower = band.upper
    if not out or math.isfinite(lower):
        # Prices above the last bound keep the last band's ending (cents when there are no bands).
        last_step, last_offset = out[-1][2:] if out else (0.01, 0.0)
        out.append((lower, math.inf, last_step, last_offset))
    return out


def _cents(x: float) -> float:
    return round(x + 0.0, 2)


def is_conforming(price: float, bands: Sequence[PriceBand]) -> bool:
    """Whether ``price`` (> 0) has the ending its band asks for."""
    if not price > 0 or not math.isfinite(price):
        return False
    for lower, upper, step, offset in _bands(bands):
        if lower - EPS <= price < upper - EPS:
            k = (price - offset) / step
            return abs(k - round(k)) < 1e-6 and round(k) >= 0
    return False


def _band_candidates(x: float, lo: float, hi: float, bands: Sequence[PriceBand]) -> list[float]:
    """Conforming prices in ``[lo, hi]`` next to ``x`` (the nearest on each side, per band)."""
    found: list[float] = []
    for lower, upper, step, offset in _bands(bands):
        a, b = max(lo, lower), min(hi, upper)
        if a > b + EPS:
            continue
        xc = min(max(x, a), b)
        k0 = math.floor((xc - offset) / step + EPS)
        for k in (k0 - 1, k0, k0 + 1, k0 + 2):
            p = _cents(k * step + offset)
            if p > 0 and a - EPS <= p <= b + EPS and lower - EPS <= p < upper - EPS:
                found.append(p)
    return found


def nearest_conforming(x: float, lo: float, hi: float, bands: Sequence[PriceBand]) -> float | None:
    """The conforming price in ``[lo, hi]`` nearest ``x`` (the lower one on a tie); ``None`` if there is none."""
    candidates = _band_candidates(x, lo, hi, bands)
    if not candidates:
        return None
    return min(candidates, key=lambda p: (abs(p - x), p))


def snap_up(x: float, bands: Sequence[PriceBand]) -> float:
    """The smallest conforming price at or above ``x`` (used to lift a price onto a hard floor)."""
    for lower, upper, step, offset in _bands(bands):
        if upper <= x + EPS:
            continue
        start = max(x, lower)
        k = math.ceil((start - offset) / step - 1e-7)
        p = _cents(k * step + offset)
        while p < start - EPS:  # float rounding guard
            k += 1
            p = _cents(k * step + offset)
        if p > 0 and p < upper - EPS:
            return p
    raise ValueError(f"no conforming price at or above {x!r}")  # pragma: no cover - last band is open


def snap_down(x: float, bands: Sequence[PriceBand]) -> float | None:
    """The largest conforming price at or below ``x``; ``None`` when there is none (``x`` below the first)."""
    best: float | None = None
    for lower, upper, step, offset in _bands(bands):
        if lower > x + EPS:
            break
        end = min(x, upper)
        k = math.floor((end - offset) / step + 1e-7)
        for kk in (k, k - 1):
            p = _cents(kk * step + offset)
            if p > 0 and lower - EPS <= p < upper - EPS and p <= x + EPS:
                best = p if best is None else max(best, p)
                break
    return best


def price_ladder(lo: float, hi: float, bands: Sequence[PriceBand], *, spacing: float = 0.02,
                 include: Sequence[float] = ()) -> np.ndarray:
    """Sorted conforming prices from ``snap_up(lo)`` to ``snap_down(hi)``, about ``spacing`` apart (relative).

    ``include`` adds given prices (for example the current price) even when they are off the grid.
    """
    if not lo > 0 or not hi >= lo:
        raise ValueError(f"price ladder needs 0 < lo <= hi, got lo={lo!r}, hi={hi!r}")
    start = snap_up(lo, bands)
    top = snap_down(hi, bands)
    rungs = {start}
    if top is not None and top >= start:
        rungs.add(top)
        n = max(1, math.ceil(math.log(top / start) / math.log1p(spacing)))
        for g in np.geomspace(start, top, n + 1):
            p = nearest_conforming(float(g), start, top, bands)
            if p is not None:
                rungs.add(p)
    rungs.update(_cents(float(p)) for p in include if p > 0)
    return np.array(sorted(rungs), dtype=float)
