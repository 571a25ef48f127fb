"""Template tags: ``inventory_tags`` (the stock badge with its "back in stock" date)."""
