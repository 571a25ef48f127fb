"""Recommendations, Django side: training (``training``), the data it reads (``data``), serving with
request-time rules and fallbacks (``serving``). The models themselves live in ``personalization.ml``."""
