"""Migration 0004 (check constraints on every number) upgrades a database holding rows that break them."""

from decimal import Decimal

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("inventory", "0003_policy_costs_and_review")]
AFTER = [("inventory", "0004_buyer_trust")]


@pytest.mark.django_db(transaction=True)
def test_0004_clamps_negative_figures_of_earlier_plans_and_forgets_negative_unit_costs():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    try:
        # given rows an earlier version could write
        old = executor.loader.project_state(BEFORE).apps
        Item = old.get_model("testhost", "Item")
        dept = old.get_model("testhost", "Department").objects.create(title="Toys")
        item = Item.objects.create(code="A1", title="Kite", department=dept, price=Decimal("10.00"), stock=0)
        suggestion = old.get_model("inventory", "RestockSuggestion").objects.create(
            product_id=item.pk, planned_at="2024-03-06", on_hand=0, on_order=0, forecast_demand=0.4,
            safety_stock=-0.3, reorder_point=0.1, order_up_to=0.4, suggested_quantity=1,
        )
        order = old.get_model("inventory", "PurchaseOrder").objects.create()
        line = old.get_model("inventory", "PurchaseOrderLine").objects.create(
            purchase_order_id=order.pk, product_id=item.pk, quantity=1, unit_cost=Decimal("-5.00")
        )
        # when
        executor = MigrationExecutor(connection)
        executor.migrate(AFTER)
        # then
        new = executor.loader.project_state(AFTER).apps
        stored = new.get_model("inventory", "RestockSuggestion").objects.get(pk=suggestion.pk)
        assert (stored.safety_stock, stored.reorder_point, stored.order_up_to) == (0.0, 0.1, 0.4)
        assert new.get_model("inventory", "PurchaseOrderLine").objects.get(pk=line.pk).unit_cost is None
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
