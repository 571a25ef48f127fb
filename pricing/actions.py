"""Deciding on suggestions and writing prices: approve, reject, apply, roll back.

Every price the app writes goes through :func:`write_price`: it refuses while pricing is paused,
passes the circuit breaker (a change larger than the configured share, or a price below unit cost,
is refused and staff are alerted), writes through the shop adapter and records a :class:`PriceChange`,
all in one transaction. Applying and rolling back are idempotent: doing it twice writes once.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

from django.core.mail import mail_admins
from django.db import models, transaction
from django.utils import timezone

from personalization.host import get_product_model
from personalization.host.adapters import get_adapter

from .ml.guardrails import check_circuit_breaker
from .models import PriceChange, PriceSuggestion, PricingSettings
from .outside import shopsense_write

logger = logging.getLogger(__name__)


class PricingError(Exception):
    """A price change the app refuses; the message says why (shown to staff as it is)."""


class PricingPaused(PricingError):
    """The global pause switch is on."""


class CircuitBreakerTripped(PricingError):
    """The change is larger than the breaker allows, or below unit cost."""


class InvalidTransition(PricingError):
    """The suggestion or change is not in a state that allows the action."""


class StalePrice(PricingError):
    """The shop's price moved since the suggestion (or change) was made."""


def is_paused() -> bool:
    """Whether the global pause switch is on."""
    return PricingSettings.load().paused


def set_paused(paused: bool, user: Any = None) -> PricingSettings:
    """Turn the global pause switch on or off."""
    row = PricingSettings.load()
    row.paused, row.updated_by = paused, user if getattr(user, "pk", None) else None
    row.save()
    # staff are named by id: no usernames or addresses in the logs
    who = f"user {user.pk}" if getattr(user, "pk", None) else "the system"
    logger.warning("Pricing %s by %s", "paused" if paused else "resumed", who)
    return row


def alert_breaker(product: models.Model, old: Decimal, new: Decimal, reason: str) -> None:
    """Tell staff that the circuit breaker refused a change: a log record and a mail to the admins."""
    message = f"Circuit breaker refused {old} → {new} for product {product.pk} ({product}): {reason}"
    logger.error(message)
    mail_admins("ShopSense pricing: circuit breaker tripped", message, fail_silently=True)


def write_price(
    product: models.Model,
    new_price: Decimal,
    *,
    user: Any = None,
    source: str = PriceChange.Source.MANUAL,
    reason: str = "",
    suggestion: PriceSuggestion | None = None,
    rollback_of: PriceChange | None = None,
) -> PriceChange:
    """Write ``new_price`` to the shop and record it; the one path every price change takes.

    Raises :class:`PricingPaused` while paused (a roll-back is still allowed: it is how a person undoes
    a bad change) and :class:`CircuitBreakerTripped` when the breaker refuses (staff are alerted).
    """
    new_price = Decimal(new_price).quantize(Decimal("0.01"))
    adapter = get_adapter()
    switches = PricingSettings.load()
    if switches.paused and source != PriceChange.Source.ROLLBACK:
        raise PricingPaused("Pricing is paused: no price is changed until the pause switch is turned off.")
    with transaction.atomic():
        product = get_product_model()._default_manager.select_for_update().get(pk=product.pk)
        old_price = adapter.get_price(product)
        cost = adapter.get_unit_cost(product)
        decision = check_circuit_breaker(
            float(old_price),
            float(new_price),
            unit_cost=None if cost is None else float(cost),
            max_change=float(switches.breaker_max_change),
        )
        if not decision.allowed:
            alert_breaker(product, old_price, new_price, decision.reason)
            raise CircuitBreakerTripped(f"Circuit breaker: {decision.reason}. Staff have been alerted.")
        with shopsense_write():  # recorded right here, not again as a change made outside ShopSense
            try:
                adapter.set_price(product, new_price)
            except (NotImplementedError, ValueError) as exc:  # the shop cannot take this price (no stock record …)
                raise PricingError(f"The price of {product} cannot be written to the shop: {exc}") from exc
        return PriceChange.objects.create(
            product=product,
            old_price=old_price,
            new_price=new_price,
            changed_at=timezone.now(),
            changed_by=user if getattr(user, "pk", None) else None,
            source=source,
            reason=reason,
            suggestion=suggestion,
            rollback_of=rollback_of,
        )


def approve(suggestion: PriceSuggestion, user: Any) -> PriceSuggestion:
    """Mark a pending suggestion approved (approving an approved one changes nothing)."""
    with transaction.atomic():
        row = PriceSuggestion.objects.select_for_update().get(pk=suggestion.pk)
        if row.status == PriceSuggestion.Status.APPROVED:
            return row
        if row.status != PriceSuggestion.Status.PENDING:
            raise InvalidTransition(
                f"Only a pending suggestion can be approved; this one is {row.get_status_display().lower()}."
            )
        row.status, row.decided_at, row.decided_by = PriceSuggestion.Status.APPROVED, timezone.now(), user
        row.save(update_fields=["status", "decided_at", "decided_by"])
    return row


def reject(suggestion: PriceSuggestion, user: Any, reason: str) -> PriceSuggestion:
    """Reject a pending or approved suggestion; a reason is required."""
    reason = (reason or "").strip()
    if not reason:
        raise InvalidTransition("Say why the suggestion is rejected.")
    with transaction.atomic():
        row = PriceSuggestion.objects.select_for_update().get(pk=suggestion.pk)
        if row.status not in {PriceSuggestion.Status.PENDING, PriceSuggestion.Status.APPROVED}:
            raise InvalidTransition(
                "Only a pending or approved suggestion can be rejected; "
                f"this one is {row.get_status_display().lower()}."
            )
        row.status, row.reason, row.decided_at, row.decided_by = (
            PriceSuggestion.Status.REJECTED,
            reason,
            timezone.now(),
            user,
        )
        row.save(update_fields=["status", "reason", "decided_at", "decided_by"])
    return row


def _expire(suggestion: PriceSuggestion, reason: str) -> None:
    PriceSuggestion.objects.filter(
        pk=suggestion.pk, status__in=[PriceSuggestion.Status.PENDING, PriceSuggestion.Status.APPROVED]
    ).update(status=PriceSuggestion.Status.EXPIRED, reason=reason)


def apply_suggestion(
    suggestion: PriceSuggestion, user: Any = None, *, source: str = PriceChange.Source.SUGGESTION
) -> PriceChange:
    """Write a pending or approved suggestion's price to the shop and record it (idempotent).

    A suggestion made for a price that has since changed expires (:class:`StalePrice`) rather than
    overwrite someone else's change.
    """
    try:
        with transaction.atomic():
            row = PriceSuggestion.objects.select_for_update().get(pk=suggestion.pk)
            if row.status == PriceSuggestion.Status.APPLIED:
                existing = row.changes.order_by("changed_at", "id").first()
                if existing is not None:
                    return existing
            if row.status not in {PriceSuggestion.Status.PENDING, PriceSuggestion.Status.APPROVED}:
                raise InvalidTransition(
                    "Only a pending or approved suggestion can be applied; "
                    f"this one is {row.get_status_display().lower()}."
                )
            product = get_product_model()._default_manager.get(pk=row.product_id)
            current = get_adapter().get_price(product)
            if current != row.current_price:
                raise StalePrice(
                    f"The price changed from {row.current_price} to {current} since this suggestion was made; "
                    "it has expired."
                )
            change = write_price(
                product,
                row.suggested_price,
                user=user,
                source=source,
                reason=f"Suggestion {row.pk} ({row.strategy}, bound by {row.binding_rule})",
                suggestion=row,
            )
            row.status = PriceSuggestion.Status.APPLIED
            if row.decided_at is None or source == PriceChange.Source.AUTO:
                row.decided_at, row.decided_by = change.changed_at, change.changed_by
            row.save(update_fields=["status", "decided_at", "decided_by"])
    except StalePrice as exc:
        _expire(suggestion, str(exc))
        raise
    suggestion.status = row.status
    return change


def rollback(change: PriceChange, user: Any = None, reason: str = "") -> PriceChange:
    """Restore the price before ``change`` with a new history row (idempotent: a second call returns the first).

    Only the product's latest change can be rolled back, and only while the shop still shows its price.
    """
    existing = PriceChange.objects.filter(rollback_of=change).first()
    if existing is not None:
        return existing
    if change.product_id is None:
        raise InvalidTransition("The shop deleted this product: there is no price to roll back.")
    latest = PriceChange.objects.filter(product_id=change.product_id).order_by("-changed_at", "-id").first()
    if latest is not None and latest.pk != change.pk:
        raise InvalidTransition("A later price change exists for this product; roll that one back first.")
    product = get_product_model()._default_manager.get(pk=change.product_id)
    current = get_adapter().get_price(product)
    if current != change.new_price:
        raise StalePrice(f"The shop's price is {current}, not {change.new_price}: it was changed outside ShopSense.")
    return write_price(
        product,
        change.old_price,
        user=user,
        source=PriceChange.Source.ROLLBACK,
        reason=reason or f"Roll-back of change {change.pk}",
        rollback_of=change,
    )
