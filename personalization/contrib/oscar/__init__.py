"""ShopSense for django-oscar: add ``"personalization.contrib.oscar"`` to ``INSTALLED_APPS`` and name the adapter.

- ``adapter`` — :class:`~.adapter.OscarShopAdapter`, the ``ShopAdapter`` that reads Oscar's catalogue through
  its own strategy (price, stock net of allocations, availability on ``partner.StockRecord``), its
  many-to-many categories, and its ``order.Line`` rows; writes prices and stock to the stock record;
- ``receivers`` — Oscar's ``product_viewed``, ``basket_addition``, ``user_search`` and ``order_placed``
  signals forwarded to ShopSense's own (``personalization.signals``), so they become events through the
  same capture service as any host's;
- ``conf`` — the ``PERSONALIZATION["OSCAR"]`` settings.

Oscar's classes and models are loaded with ``oscar.core.loading`` (``get_class`` / ``get_model``), so a
host's forked Oscar apps are used.
"""
