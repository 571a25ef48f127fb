"""The shop's as-of (personalization.host.clock): now by default, or a pinned ISO date / date-time."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from inventory.forecasting import planning_date
from personalization.host import clock


def test_the_default_is_now():
    before = timezone.now()
    assert before <= clock.reference_time() <= timezone.now()
    assert planning_date() == timezone.localdate()


def test_an_iso_date_means_the_end_of_that_day_in_the_shops_time_zone(settings):
    settings.PERSONALIZATION = {**settings.PERSONALIZATION, "REFERENCE_TIME": "2011-12-10"}
    moment = clock.reference_time()
    assert timezone.localtime(moment).date() == dt.date(2011, 12, 10)
    assert timezone.localtime(moment).time() == dt.time.max
    assert planning_date() == dt.date(2011, 12, 10)


def test_an_apps_own_setting_wins_and_now_there_means_now(settings):
    settings.PERSONALIZATION = {**settings.PERSONALIZATION, "REFERENCE_TIME": "2011-12-10"}
    settings.INVENTORY = {"REFERENCE_TIME": "2024-03-06T09:30:00+00:00"}
    assert planning_date() == timezone.localdate(dt.datetime(2024, 3, 6, 9, 30, tzinfo=dt.UTC))
    settings.INVENTORY = {"REFERENCE_TIME": "now"}
    assert planning_date() == timezone.localdate()


@pytest.mark.parametrize("value", ["last_order", "yesterday", "2011-13-01", 42])
def test_anything_else_is_a_configuration_error_that_names_the_setting(settings, value):
    settings.PERSONALIZATION = {**settings.PERSONALIZATION, "REFERENCE_TIME": value}
    with pytest.raises(ImproperlyConfigured, match=r'PERSONALIZATION\["REFERENCE_TIME"\] must be .now. or an ISO'):
        clock.reference_time()
