"""One currency setting, formatted in the host's locale, wherever ShopSense shows a price."""
from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from django.template import Context, Template
from django.utils import translation

from personalization.host.money import currency_symbol, format_price

ROOT = Path(__file__).resolve().parents[2]


def _with(settings, **values):
    settings.PERSONALIZATION = {**settings.PERSONALIZATION, **values}


@pytest.mark.parametrize(
    ("values", "language", "thousands", "expected"),
    [
        ({}, "en-gb", False, "£1234.50"),
        ({}, "en-gb", True, "£1,234.50"),
        ({"CURRENCY": "eur", "CURRENCY_FORMAT": "{amount} {symbol}"}, "de", True, "1.234,50 €"),
        ({"CURRENCY": "USD"}, "en", False, "$1234.50"),
        ({"CURRENCY": "XYZ"}, "en", False, "XYZ 1234.50"),
        ({"CURRENCY": "SEK", "CURRENCY_SYMBOL": "", "CURRENCY_FORMAT": "{amount} kr"}, "en", False, "1234.50 kr"),
    ],
)
def test_prices_follow_the_currency_setting_and_the_locale(settings, values, language, thousands, expected):
    _with(settings, **values)
    settings.USE_THOUSAND_SEPARATOR = thousands

    with translation.override(language):
        assert format_price(Decimal("1234.5")) == expected
        assert Template("{% load personalization_tags %}{{ p|money }}").render(Context({"p": "1234.5"})) == expected


@pytest.mark.parametrize("value", [None, "", "n/a"])
def test_no_price_shows_nothing(value):
    assert format_price(value) == ""


def test_the_old_pricing_symbol_still_works_with_a_deprecation_warning(settings):
    settings.PRICING = {**(getattr(settings, "PRICING", None) or {}), "CURRENCY_SYMBOL": "CHF "}

    with pytest.warns(DeprecationWarning, match=r'PRICING\["CURRENCY_SYMBOL"\] is deprecated'):
        assert currency_symbol() == "CHF "


@pytest.mark.django_db
def test_the_price_tag_uses_the_setting_and_no_template_hard_codes_a_currency(settings):
    from tests.apps.test_pricing_support import make_item

    _with(settings, CURRENCY="EUR")
    item = make_item("A", price="12.50")

    html = Template("{% load pricing_tags %}{% price_tag item %}").render(Context({"item": item}))

    assert '<span class="price" data-testid="price">€12.50</span>' in html
    offenders = [str(p.relative_to(ROOT)) for app in ("personalization", "pricing", "inventory")
                 for p in (ROOT / app / "templates").rglob("*.html") if "£" in p.read_text()]
    assert offenders == []
