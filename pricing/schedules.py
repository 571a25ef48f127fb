"""Default periodic jobs of the pricing app, installed by ``manage.py install_schedules``."""

from __future__ import annotations

from personalization.ops.schedules import ScheduleSpec

DEFAULT_SCHEDULES = [
    ScheduleSpec(
        name="ShopSense: refit price elasticities and suggest prices",
        task="pricing.refit_and_suggest",
        description="Refits every product's price elasticity from the orders, then suggests prices by policy.",
        crontab="0 3 * * *",
    ),
]
