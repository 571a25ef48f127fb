"""Management commands of the pricing app (``commands/``)."""
