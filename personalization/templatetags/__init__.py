"""Template tags: ``personalization_tags`` (recommendation widgets, segment conditions)."""
