"""Recommendations, Django side: the data the models learn from (``data``), training and the
activation rule (``training``, ``blend``, ``config``), A/B tests (``experiments``), serving with
request-time rules and fallbacks (``serving``, ``served_cache``), the retrain task (``tasks``) and the
model-version admin with its metrics chart (``admin``, ``charts``). The models themselves are in
``personalization.ml``."""
