"""Template tags: ``pricing_tags`` (the current price with the legally required prior price)."""
