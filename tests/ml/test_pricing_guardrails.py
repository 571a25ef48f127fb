"""Guardrails: the fixed rule order, hard floors last, blank floors, endings, step and interval limits,
the circuit breaker, and properties that hold for any input (hypothesis)."""
from __future__ import annotations

import math
from datetime import datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pricing.ml.endings import PriceBand, is_conforming, price_ladder, snap_up
from pricing.ml.guardrails import (
    RULE_ORDER,
    GuardrailPolicy,
    apply_guardrails,
    audit_price,
    check_circuit_breaker,
)

BANDS = (PriceBand(1.0, "cents"), PriceBand(10.0, ".x9"), PriceBand(100.0, ".99"), PriceBand(1000.0, ".95"),
         PriceBand(math.inf, "whole"))


def test_trail_lists_every_rule_in_the_documented_order() -> None:
    # given a policy with every rule set
    policy = GuardrailPolicy(min_margin=0.1, map_price=9.0, absolute_floor=2.0, ceiling=40.0, max_change=0.2,
                             min_interval=1, price_bands=BANDS)
    # when a price passes the guardrails
    result = apply_guardrails(25.0, current_price=19.99, unit_cost=8.0, policy=policy, now=10, last_changed_at=3)
    # then the trail has one step per rule, in RULE_ORDER, and the floors come last
    assert tuple(step.rule for step in result.trail) == RULE_ORDER
    assert RULE_ORDER[-3:] == ("floor-cost", "map", "floor-absolute")
    assert result.price == 22.99
    assert (result.rule, result.rounding) == ("max-change", pytest.approx(22.99 - 19.99 * 1.2))


def test_hard_floor_comes_last_and_beats_the_step_limit() -> None:
    # given a current price far below a raised cost floor and a 10 % step limit
    policy = GuardrailPolicy(min_margin=0.2, max_change=0.1)
    # when the optimiser proposes a small cut
    result = apply_guardrails(4.00, current_price=5.00, unit_cost=6.00, policy=policy)
    # then the cost floor (6.00 * 1.2) wins, although it is a 44 % change
    assert result.price == 7.20
    assert result.rule == "floor-cost"
    assert [s.status for s in result.trail if s.rule == "max-change"] == ["clamped"]


def test_hard_floor_beats_a_ceiling_below_it() -> None:
    # given a ceiling below the MAP price
    policy = GuardrailPolicy(map_price=12.0, ceiling=10.0)
    # when anything is proposed
    result = apply_guardrails(11.0, current_price=11.0, unit_cost=5.0, policy=policy)
    # then MAP (a hard floor, applied last) wins over the ceiling
    assert result.price == 12.0
    assert result.rule == "map"


def test_price_lifted_to_a_floor_gets_a_valid_ending() -> None:
    # given .99 endings and a cost floor of 11.00
    policy = GuardrailPolicy(min_margin=0.1, price_bands=(PriceBand(math.inf, ".99"),))
    # when a price below the floor is proposed
    result = apply_guardrails(8.0, current_price=12.99, unit_cost=10.0, policy=policy)
    # then the price is the smallest .99 price at or above the floor
    assert result.price == 11.99
    assert result.rule == "floor-cost"


@pytest.mark.parametrize("absolute_floor", [None])
def test_blank_floor_means_do_not_reprice(absolute_floor: float | None) -> None:
    # given no unit cost and no absolute floor
    policy = GuardrailPolicy(min_margin=0.1, absolute_floor=absolute_floor, map_price=3.0)
    # when a new price is proposed
    result = apply_guardrails(2.0, current_price=7.49, unit_cost=None, policy=policy)
    # then the current price comes back, marked "no-floor", and nothing else ran
    assert result.price == 7.49
    assert result.rule == "no-floor"
    assert [s.status for s in result.trail[1:]] == ["skipped"] * (len(RULE_ORDER) - 1)


def test_absolute_floor_alone_allows_repricing() -> None:
    # given no unit cost but an absolute floor
    policy = GuardrailPolicy(absolute_floor=5.0)
    # when a price above it is proposed
    result = apply_guardrails(6.5, current_price=7.49, unit_cost=None, policy=policy)
    # then it is applied
    assert result.price == 6.5
    assert result.rule == "none"


@pytest.mark.parametrize(("proposed", "bands", "expected"), [
    (23.40, (PriceBand(100.0, ".99"),), 22.99),
    (23.60, (PriceBand(100.0, ".99"),), 23.99),
    (123.40, (PriceBand(100.0, ".99"), PriceBand(math.inf, ".95")), 122.95),
    (4.33, BANDS, 4.29),
    (0.427, BANDS, 0.43),
    (1234.4, BANDS, 1234.0),
    (9.97, BANDS, 9.99),
])
def test_price_endings_per_band(proposed: float, bands: tuple[PriceBand, ...], expected: float) -> None:
    # given endings by price band and no other limit
    policy = GuardrailPolicy(price_bands=bands)
    # when a price is proposed
    result = apply_guardrails(proposed, current_price=proposed, unit_cost=0.01, policy=policy)
    # then it snaps to the nearest price with the band's ending, reported as rounding, not as a binding rule
    assert result.price == expected
    assert (result.rule, result.rounding) == ("none", pytest.approx(expected - proposed))
    assert is_conforming(result.price, bands)


@pytest.mark.parametrize(("proposed", "expected"), [(15.0, 11.0), (5.0, 9.0), (10.5, 10.5)])
def test_max_change_per_step(proposed: float, expected: float) -> None:
    # given a 10 % step limit and whole cents
    policy = GuardrailPolicy(max_change=0.10)
    # when a price is proposed
    result = apply_guardrails(proposed, current_price=10.0, unit_cost=1.0, policy=policy)
    # then it moved at most 10 %
    assert result.price == expected


def test_max_change_with_endings_stays_inside_the_window() -> None:
    # given .99 endings and a 5 % step limit from 19.99
    policy = GuardrailPolicy(max_change=0.05, price_bands=(PriceBand(math.inf, ".99"),))
    # when a big rise is proposed
    result = apply_guardrails(30.0, current_price=19.99, unit_cost=1.0, policy=policy)
    # then no higher .99 price lies within 5 %, so the price stays: the step limit bound, the rounding undid it
    assert result.price == 19.99
    assert (result.rule, result.rounding) == ("max-change", pytest.approx(19.99 - 19.99 * 1.05))


@pytest.mark.parametrize(("now", "expected"), [(6, 9.99), (7, 12.99)])
def test_min_interval_between_changes(now: int, expected: float) -> None:
    # given the price changed at period 5 and changes need 2 periods between them
    policy = GuardrailPolicy(min_interval=2)
    # when a new price is proposed at `now`
    result = apply_guardrails(12.99, current_price=9.99, unit_cost=1.0, policy=policy, now=now, last_changed_at=5)
    # then it is held inside the interval and applied after it
    assert result.price == expected
    assert result.rule == ("min-interval" if expected == 9.99 else "none")


def test_min_interval_with_datetimes() -> None:
    # given a two-day interval and a change a day ago
    policy = GuardrailPolicy(min_interval=timedelta(days=2))
    now = datetime(2024, 5, 3, 12, 0)
    # when a new price is proposed
    held = apply_guardrails(12.0, current_price=10.0, unit_cost=1.0, policy=policy, now=now,
                            last_changed_at=now - timedelta(days=1))
    moved = apply_guardrails(12.0, current_price=10.0, unit_cost=1.0, policy=policy, now=now,
                             last_changed_at=now - timedelta(days=3))
    # then the price is held, then free to change
    assert (held.price, moved.price) == (10.0, 12.0)


def test_min_interval_does_not_keep_a_price_below_its_floor() -> None:
    # given a price that fell below a raised cost floor, in the cool-down interval
    policy = GuardrailPolicy(min_interval=4)
    # when the strategy proposes to hold it
    result = apply_guardrails(5.0, current_price=5.0, unit_cost=6.0, policy=policy, now=2, last_changed_at=1)
    # then the hard floor still lifts it
    assert result.price == 6.0
    assert result.rule == "floor-cost"


@pytest.mark.parametrize(("new_price", "broken"), [
    (8.99, ("floor-cost",)),
    (11.99, ("max-change",)),
    (10.50, ("price-ending",)),
    (10.99, ()),
])
def test_audit_finds_what_a_price_breaks(new_price: float, broken: tuple[str, ...]) -> None:
    # given .99 endings, a cost floor of 9.90 and a 15 % step limit from 9.99
    policy = GuardrailPolicy(min_margin=0.1, max_change=0.15, price_bands=(PriceBand(math.inf, ".99"),))
    # when a price is audited
    found = audit_price(new_price, current_price=9.99, unit_cost=9.0, policy=policy)
    # then exactly the broken rules are reported
    assert found == broken


@pytest.mark.parametrize(("new_price", "cost", "allowed"), [
    (12.0, 5.0, True),
    (12.6, 5.0, False),
    (7.4, 5.0, False),
    (4.5, 5.0, False),
    (float("nan"), 5.0, False),
])
def test_circuit_breaker(new_price: float, cost: float, allowed: bool) -> None:
    # given a breaker that refuses changes over 25 % and prices below cost
    # when a change from 10.00 is checked
    decision = check_circuit_breaker(10.0, new_price, unit_cost=cost, max_change=0.25)
    # then it is let through or refused with a reason
    assert decision.allowed is allowed
    assert (decision.reason == "") is allowed


def test_ladder_is_conforming_and_spans_floor_to_ceiling() -> None:
    # when a ladder is built from 2.40 to 60
    ladder = price_ladder(2.40, 60.0, BANDS, spacing=0.03)
    # then every rung has its band's ending, the first is the smallest valid price >= 2.40
    assert all(is_conforming(p, BANDS) for p in ladder)
    assert ladder[0] == snap_up(2.40, BANDS) == 2.49
    assert ladder[-1] == 59.99


prices = st.floats(min_value=0.05, max_value=5000.0, allow_nan=False, allow_infinity=False)
maybe_price = st.one_of(st.none(), prices)
band_sets = st.sampled_from([(), BANDS, (PriceBand(math.inf, ".99"),),
                             (PriceBand(50.0, ".95"), PriceBand(math.inf, "whole")), (PriceBand(math.inf, ".x9"),)])


@st.composite
def policies(draw: st.DrawFn) -> GuardrailPolicy:
    return GuardrailPolicy(
        min_margin=draw(st.floats(min_value=0.0, max_value=1.0)),
        map_price=draw(maybe_price), absolute_floor=draw(maybe_price), ceiling=draw(maybe_price),
        max_change=draw(st.one_of(st.none(), st.floats(min_value=0.01, max_value=0.9))),
        min_interval=draw(st.one_of(st.none(), st.integers(min_value=1, max_value=4))),
        price_bands=draw(band_sets),
    )


@settings(max_examples=400, deadline=None, database=None)
@given(policy=policies(), proposed=st.one_of(prices, st.just(float("nan")), st.just(-1.0)), current=prices,
       cost=maybe_price, now=st.integers(min_value=0, max_value=10),
       last=st.one_of(st.none(), st.integers(min_value=0, max_value=10)))
def test_no_suggestion_ever_violates_the_guardrails(policy: GuardrailPolicy, proposed: float, current: float,
                                                    cost: float | None, now: int, last: int | None) -> None:
    # when any proposal passes the guardrails
    result = apply_guardrails(proposed, current_price=current, unit_cost=cost, policy=policy, now=now,
                              last_changed_at=last)
    price = result.price
    # then the independent audit finds nothing
    assert audit_price(price, current_price=current, unit_cost=cost, policy=policy, now=now,
                       last_changed_at=last) == ()
    # and the trail is complete, in order, chaining each step's output into the next
    assert tuple(s.rule for s in result.trail) == RULE_ORDER
    assert all(a.after == b.before for a, b in zip(result.trail, result.trail[1:], strict=False))
    if not policy.has_floor(cost):
        assert (price, result.rule) == (current, "no-floor")
        return
    floor = policy.hard_floor(cost)
    # and no price is ever below a hard floor
    if floor is not None:
        assert price >= floor[1] - 1e-9
    forced = floor is not None and abs(price - snap_up(floor[1], policy.price_bands)) < 1e-9
    if abs(price - current) > 1e-9 and not forced:
        # a change has a valid ending, respects the step limit, the ceiling and the interval
        assert is_conforming(price, policy.price_bands)
        if policy.max_change is not None:
            assert abs(price - current) <= policy.max_change * current + 1e-7
        if policy.ceiling is not None:
            assert price <= max(policy.ceiling, current * (1 - (policy.max_change or 1.0))) + 1e-7
        if policy.min_interval is not None and last is not None:
            assert now - last >= policy.min_interval


@settings(max_examples=200, deadline=None, database=None)
@given(current=prices, new=prices, cost=maybe_price, share=st.floats(min_value=0.01, max_value=1.0))
def test_circuit_breaker_never_lets_a_large_or_below_cost_change_through(current: float, new: float,
                                                                         cost: float | None, share: float) -> None:
    # when any change is checked
    decision = check_circuit_breaker(current, new, unit_cost=cost, max_change=share)
    # then an allowed change is within the share and not below cost
    if decision.allowed:
        assert abs(new / current - 1.0) <= share + 1e-9
        assert cost is None or new >= cost - 1e-9
