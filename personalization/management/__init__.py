"""Management commands of the personalization app (``commands/``)."""
