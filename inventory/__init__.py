"""ShopSense inventory: demand forecasts with quantiles, restock suggestions from a replenishment policy,
purchase orders received into the shop's stock, and stock-out records.

``forecasting`` (demand history and the served forecaster), ``planning`` (the policy maths per product
and idempotent suggestions), ``purchasing`` (orders from suggestions, receiving stock through the adapter),
``demand_signals`` (stock-out days, exposure), ``dashboard`` / ``charts`` (the exceptions page),
``evaluation``, ``services`` / ``tasks`` (the entry points), with ``admin``, ``api/``, ``templatetags/``
and ``ml/`` (forecasters and policies without Django).
"""
