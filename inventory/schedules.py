"""Default periodic jobs of the inventory app, installed by ``manage.py install_schedules``."""
from __future__ import annotations

from personalization.ops.schedules import ScheduleSpec

DEFAULT_SCHEDULES = [
    ScheduleSpec(
        name="ShopSense: forecast demand and plan restocking",
        task="inventory.plan_restock",
        description="Refits the demand forecaster on all orders and refreshes the restock suggestions.",
        crontab="0 3 * * *",
    ),
    ScheduleSpec(
        name="ShopSense: record stock-outs",
        task="inventory.record_stockouts",
        description="Notes every product with no stock today, so that sold-out weeks count as unknown demand.",
        crontab="17 * * * *",
    ),
]
