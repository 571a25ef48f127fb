"""Prices as shoppers and staff read them: one currency setting, the host's locale for the number.

``PERSONALIZATION["CURRENCY"]`` is an ISO 4217 code (default ``"GBP"``); its symbol comes from
:data:`SYMBOLS` unless ``PERSONALIZATION["CURRENCY_SYMBOL"]`` overrides it, and
``PERSONALIZATION["CURRENCY_FORMAT"]`` places it (``"{symbol}{amount}"``, or ``"{amount} {symbol}"``).
The number is formatted by Django's localisation (``number_format``: the active language's decimal
separator, and grouping when ``USE_THOUSAND_SEPARATOR`` is on). Templates use the ``money`` filter of
``personalization_tags``; Python code calls :func:`format_price`.
"""
from __future__ import annotations

import warnings
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.utils.formats import number_format

from .conf import personalization_settings

SYMBOLS = {
    "GBP": "£", "EUR": "€", "USD": "$", "JPY": "¥", "CNY": "¥", "INR": "₹", "KRW": "₩", "AUD": "A$", "CAD": "C$",
    "NZD": "NZ$", "CHF": "CHF ", "SEK": "kr ", "NOK": "kr ", "DKK": "kr ", "PLN": "zł ", "BRL": "R$", "ZAR": "R ",
}


def currency_symbol() -> str:
    """The symbol prices are shown with (the ``CURRENCY_SYMBOL`` override, else the code's, else the code)."""
    override = personalization_settings.CURRENCY_SYMBOL
    if override is None:
        old = (getattr(settings, "PRICING", None) or {}).get("CURRENCY_SYMBOL")
        if old is not None:
            warnings.warn('PRICING["CURRENCY_SYMBOL"] is deprecated: set PERSONALIZATION["CURRENCY"] (an ISO code) '
                          'or PERSONALIZATION["CURRENCY_SYMBOL"].', DeprecationWarning, stacklevel=2)
            return str(old)
        code = str(personalization_settings.CURRENCY).upper()
        return SYMBOLS.get(code, f"{code} ")
    return str(override)


def format_price(value: Any, decimal_pos: int = 2) -> str:
    """``value`` with the currency symbol, in the active locale; ``""`` for None or a value that is no number."""
    if value is None or value == "":
        return ""
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return ""
    number = number_format(amount, decimal_pos=decimal_pos)
    return str(personalization_settings.CURRENCY_FORMAT).format(symbol=currency_symbol(), amount=number)
