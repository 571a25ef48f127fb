"""Guardrails every suggested price passes through, in one fixed order, with hard floors last.

The order (:data:`RULE_ORDER`) is part of the contract:

1. ``no-floor``: without a hard floor to protect the margin (no unit cost and no absolute floor) the
   product is not repriced: the current price comes back unchanged and nothing else runs.
2. ``min-interval``: if the price changed less than ``min_interval`` ago, the current price is kept
   (rules 3-5 are skipped; hard floors still apply).
3. ``ceiling``: the price is capped at ``ceiling``.
4. ``max-change``: the price moves at most ``max_change`` (a share, 0.10 = 10 %) from the current
   price. It comes after the ceiling, so a price far above a lowered ceiling walks down step by step.
5. ``price-ending``: the price snaps to the nearest price with the band's ending (see
   :mod:`.endings`) inside the window left by rules 3-4; when that window holds no such price, the
   current price is kept.
6. Hard floors, LAST, so nothing can undo them: ``floor-cost`` (``unit_cost * (1 + min_margin)``,
   rounded up to the cent), ``map`` (minimum advertised price) and ``floor-absolute``. A price below
   the highest of them is lifted to the smallest price with a valid ending at or above it, even when
   that breaks the ceiling, the step limit or the interval.

:func:`apply_guardrails` returns the final price, the binding rule (the last rule that moved the
price, ``"none"`` when the proposal passed untouched; the rounding to a valid ending is reported apart,
as ``rounding``, so a step limit that did the work is not hidden behind the cents) and the full clamp
trail. :func:`audit_price` checks a price against the same policy independently (the simulator counts its findings as
violations), and :func:`check_circuit_breaker` is the last-line check before a price is written.

Times are either numbers (periods, as the simulator uses) or ``datetime`` with a ``timedelta``
``min_interval``, as the Django side uses; money is float rounded to cents.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from .endings import EPS, PriceBand, is_conforming, nearest_conforming, snap_up

RULE_ORDER: tuple[str, ...] = (
    "no-floor", "min-interval", "ceiling", "max-change", "price-ending", "floor-cost", "map", "floor-absolute",
)
HARD_FLOOR_RULES: tuple[str, ...] = ("floor-cost", "map", "floor-absolute")

Time = float | int | datetime
Interval = float | int | timedelta


@dataclass(frozen=True)
class GuardrailPolicy:
    """The limits one product's price must respect. ``None`` switches a rule off.

    ``min_margin`` is a share over unit cost (0.10: never below cost + 10 %); ``max_change`` a share
    of the current price per step; ``min_interval`` a number of periods or a ``timedelta``;
    ``price_bands`` the endings per band (empty: whole cents).
    """

    min_margin: float = 0.0
    map_price: float | None = None
    absolute_floor: float | None = None
    ceiling: float | None = None
    max_change: float | None = None
    min_interval: Interval | None = None
    price_bands: tuple[PriceBand, ...] = ()

    def __post_init__(self) -> None:
        if self.min_margin < 0 or not math.isfinite(self.min_margin):
            raise ValueError(f"min_margin must be a finite share >= 0, got {self.min_margin!r}")
        if self.max_change is not None and not 0 < self.max_change < 1:
            raise ValueError(f"max_change must be a share in (0, 1), got {self.max_change!r}")
        for name in ("map_price", "absolute_floor", "ceiling"):
            value = getattr(self, name)
            if value is not None and not (value > 0 and math.isfinite(value)):
                raise ValueError(f"{name} must be a positive price, got {value!r}")

    def hard_floors(self, unit_cost: float | None) -> dict[str, float]:
        """The hard floors that are set, by rule name (cost floor rounded up to the cent)."""
        floors: dict[str, float] = {}
        if unit_cost is not None:
            floors["floor-cost"] = ceil_cents(unit_cost * (1.0 + self.min_margin))
        if self.map_price is not None:
            floors["map"] = self.map_price
        if self.absolute_floor is not None:
            floors["floor-absolute"] = self.absolute_floor
        return floors

    def has_floor(self, unit_cost: float | None) -> bool:
        """Whether the product may be repriced: it needs a unit cost or an absolute floor."""
        return unit_cost is not None or self.absolute_floor is not None

    def hard_floor(self, unit_cost: float | None) -> tuple[str, float] | None:
        """The binding hard floor ``(rule, price)``, or ``None`` when no floor is set."""
        floors = self.hard_floors(unit_cost)
        if not floors:
            return None
        rule = max(floors, key=lambda r: (floors[r], -HARD_FLOOR_RULES.index(r)))
        return rule, floors[rule]


@dataclass(frozen=True)
class ClampStep:
    """One rule's pass in the trail: the price before and after, and what happened.

    ``status`` is ``"clamped"`` (the rule moved the price), ``"passed"``, ``"not-set"`` or ``"skipped"``.
    """

    rule: str
    before: float
    after: float
    status: str


@dataclass(frozen=True)
class GuardrailResult:
    """The final price, the binding rule and every rule's step, in :data:`RULE_ORDER`.

    ``rule`` is the last rule that moved the price, not counting the rounding to a valid ending
    (``"none"``: only the rounding, or nothing, moved it); ``rounding`` is what that rounding added
    (``price-ending`` is the rule only when no valid ending lay inside the step window, so the price
    was held).
    """

    price: float
    rule: str
    proposed: float
    trail: tuple[ClampStep, ...] = field(default_factory=tuple)
    rounding: float = 0.0

    @property
    def changed(self) -> bool:
        """Whether the guardrails moved the proposal (a rule, or only the rounding to a valid ending)."""
        return self.rule != "none" or abs(self.rounding) > EPS


def ceil_cents(x: float) -> float:
    """``x`` rounded up to the cent (tolerant of float noise: 5.5000000001 stays 5.50)."""
    return math.ceil(round(x * 100.0, 6)) / 100.0


def _elapsed_short(now: Time | None, last: Time | None, interval: Interval | None) -> bool:
    if interval is None or now is None or last is None:
        return False
    return (now - last) < interval  # type: ignore[operator]


def apply_guardrails(proposed: float, *, current_price: float, unit_cost: float | None, policy: GuardrailPolicy,
                     now: Time | None = None, last_changed_at: Time | None = None) -> GuardrailResult:
    """Pass ``proposed`` through the rules in :data:`RULE_ORDER`; see the module docstring.

    A non-finite or non-positive proposal is treated as "keep the current price". ``current_price``
    must be a positive finite price (a :class:`ValueError` otherwise).
    """
    if not (current_price > 0 and math.isfinite(current_price)):
        raise ValueError(f"current price must be positive and finite, got {current_price!r}")
    start = proposed if (proposed > 0 and math.isfinite(proposed)) else current_price
    trail: list[ClampStep] = []
    price = start
    binding = "none"
    rounding = 0.0

    def step(rule: str, after: float, status: str | None = None, *, is_rounding: bool = False) -> None:
        nonlocal price, binding, rounding
        moved = abs(after - price) > EPS
        trail.append(ClampStep(rule, price, after, status or ("clamped" if moved else "passed")))
        if moved and is_rounding:
            rounding += after - price
        elif moved:
            binding = rule
        price = after

    if not policy.has_floor(unit_cost):
        step("no-floor", current_price)
        for rule in RULE_ORDER[1:]:
            trail.append(ClampStep(rule, price, price, "skipped"))
        return GuardrailResult(price=current_price, rule="no-floor", proposed=start, trail=tuple(trail))
    trail.append(ClampStep("no-floor", price, price, "passed"))

    s = policy.max_change
    if policy.min_interval is None:
        trail.append(ClampStep("min-interval", price, price, "not-set"))
        cooling = False
    else:
        cooling = _elapsed_short(now, last_changed_at, policy.min_interval)
        step("min-interval", current_price if cooling else price)

    if cooling:
        for rule in ("ceiling", "max-change", "price-ending"):
            trail.append(ClampStep(rule, price, price, "skipped"))
    else:
        if policy.ceiling is None:
            trail.append(ClampStep("ceiling", price, price, "not-set"))
        else:
            step("ceiling", min(price, policy.ceiling))
        lo = current_price * (1.0 - s) if s is not None else 0.01
        hi = current_price * (1.0 + s) if s is not None else math.inf
        if s is None:
            trail.append(ClampStep("max-change", price, price, "not-set"))
        else:
            step("max-change", min(max(price, lo), hi))
        if policy.ceiling is not None:
            hi = min(hi, policy.ceiling)
        hi = max(hi, lo)  # the step limit beats a ceiling it cannot reach in one step
        snapped = nearest_conforming(price, lo, hi, policy.price_bands)
        step("price-ending", current_price if snapped is None else snapped, is_rounding=snapped is not None)

    floor = policy.hard_floor(unit_cost)
    for rule in HARD_FLOOR_RULES:
        floors = policy.hard_floors(unit_cost)
        if rule not in floors:
            trail.append(ClampStep(rule, price, price, "not-set"))
        elif floor is not None and rule == floor[0] and price < floor[1] - EPS:
            step(rule, snap_up(floor[1], policy.price_bands))
        else:
            trail.append(ClampStep(rule, price, price, "passed"))
    return GuardrailResult(price=price, rule=binding, proposed=start, trail=tuple(trail), rounding=round(rounding, 6))


def audit_price(new_price: float, *, current_price: float, unit_cost: float | None, policy: GuardrailPolicy,
                now: Time | None = None, last_changed_at: Time | None = None) -> tuple[str, ...]:
    """The rules ``new_price`` breaks, given the same facts :func:`apply_guardrails` saw (empty: none).

    Keeping the current price only ever breaks a hard floor. A price lifted exactly onto the hard floor
    (the smallest valid price at or above it) is exempt from the other rules, as the order says.
    """
    if not policy.has_floor(unit_cost):
        return () if abs(new_price - current_price) <= EPS else ("no-floor",)
    broken: list[str] = []
    floor = policy.hard_floor(unit_cost)
    if floor is not None and new_price < floor[1] - EPS:
        broken.append(floor[0])
    if abs(new_price - current_price) <= EPS:
        return tuple(broken)
    if floor is not None and abs(new_price - snap_up(floor[1], policy.price_bands)) <= EPS:
        return tuple(broken)
    if _elapsed_short(now, last_changed_at, policy.min_interval):
        broken.append("min-interval")
    s = policy.max_change
    if s is not None and abs(new_price - current_price) > s * current_price + 1e-7:
        broken.append("max-change")
    if policy.ceiling is not None:
        allowed = policy.ceiling if s is None else max(policy.ceiling, current_price * (1.0 - s))
        if new_price > allowed + 1e-7:
            broken.append("ceiling")
    if not is_conforming(new_price, policy.price_bands):
        broken.append("price-ending")
    return tuple(broken)


@dataclass(frozen=True)
class BreakerDecision:
    """Whether the circuit breaker lets a price change through, and why not."""

    allowed: bool
    reason: str = ""


def check_circuit_breaker(current_price: float, new_price: float, *, unit_cost: float | None,
                          max_change: float) -> BreakerDecision:
    """Refuse a change larger than ``max_change`` (a share of the current price) or a price below cost.

    The last check before a price is written to the shop, independent of how it was produced: a
    bug upstream (a wrong cost, a runaway optimiser) cannot move a price by more than this.
    """
    if not (new_price > 0 and math.isfinite(new_price)):
        return BreakerDecision(False, f"invalid price {new_price!r}")
    if unit_cost is not None and new_price < unit_cost - EPS:
        return BreakerDecision(False, f"price {new_price:.2f} is below unit cost {unit_cost:.2f}")
    if current_price > 0 and abs(new_price / current_price - 1.0) > max_change + 1e-9:
        share = new_price / current_price - 1.0
        return BreakerDecision(False, f"change of {share:+.1%} exceeds the circuit breaker's {max_change:.0%}")
    return BreakerDecision(True)
