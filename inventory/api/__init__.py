"""The inventory REST API (DRF): staff endpoints for forecasts, restock suggestions, purchase orders and
the exceptions summary."""
