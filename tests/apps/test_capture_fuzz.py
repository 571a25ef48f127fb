"""Hypothesis: the event validator and the events batch accept or refuse anything, all or nothing."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from personalization.capture import buffer, events
from personalization.capture import services as capture
from personalization.models import Event
from personalization.ops import redis_conn
from tests.testhost.models import Department, Item

JSON_SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=80)
JSON_VALUES = st.recursive(JSON_SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
    st.text(max_size=10), inner, max_size=3), max_leaves=6)
FIELDS = ("type", "user", "session_key", "product", "quantity", "price", "query", "recommendation_id",
          "client_event_id", "timestamp")
EVENT_TYPES = st.sampled_from(["view", "cart", "purchase", "search", "impression", "click", "nonsense"])
# Mostly plausible values, sometimes anything at all.
PLAUSIBLE = {
    "type": EVENT_TYPES,
    "user": st.integers(min_value=-2, max_value=10**12),
    "session_key": st.text(max_size=70),
    "product": st.integers(min_value=-2, max_value=10**12),
    "quantity": st.integers(min_value=-2, max_value=10**7),
    "price": st.decimals(allow_nan=True, places=2).map(str) | st.floats(),
    "query": st.text(max_size=300),
    "recommendation_id": st.text(max_size=80),
    "client_event_id": st.text(max_size=80),
    "timestamp": st.datetimes().map(lambda d: d.isoformat()) | st.text(max_size=30),
}
EVENT_ITEMS = st.fixed_dictionaries(
    {}, optional={name: PLAUSIBLE[name] | JSON_VALUES for name in FIELDS}
) | JSON_VALUES
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ
@given(fields=st.fixed_dictionaries({}, optional={name: PLAUSIBLE[name] | JSON_VALUES for name in FIELDS}))
def test_build_event_returns_an_event_or_raises_invalid_event(fields):
    names = {"type": "event_type", "user": "user_id", "product": "product_id"}
    kwargs = {names.get(key, key): value for key, value in fields.items()}
    kwargs.setdefault("event_type", None)
    try:
        event = capture.build_event(**kwargs)
    except capture.InvalidEvent as exc:
        assert exc.errors and all(isinstance(message, str) and message for message in exc.errors.values())
    else:
        assert event.event_type in events.EVENT_TYPES
        assert event.user_id is not None or event.session_key


def _stored() -> tuple[int, int]:
    return Event.objects.count(), buffer.length() if redis_conn.is_configured() else 0


@pytest.mark.django_db
@FUZZ
@given(items=st.lists(EVENT_ITEMS, max_size=4) | JSON_VALUES, as_server=st.booleans())
@example(items=[{"type": "view", "product": 2**64, "session_key": "s"}], as_server=False)  # no 64-bit id
@example(items=[{"type": ["view"], "session_key": "s"}], as_server=False)  # not text
def test_a_batch_is_stored_whole_or_not_at_all(items, as_server, django_user_model):
    department, _ = Department.objects.get_or_create(title="Toys")
    Item.objects.get_or_create(code="K1", defaults={"title": "Kite", "department": department, "price": 3})
    before = _stored()

    try:
        sender = {"api_key_id": 7} if as_server else {"sender_user_id": 1}
        result = capture.accept_batch(items, **sender)
    except capture.InvalidBatch as exc:
        assert exc.detail
        assert _stored() == before
    else:
        stored = _stored()
        assert result.accepted + result.duplicates == len(items)
        assert stored[0] + stored[1] - before[0] - before[1] == result.accepted
