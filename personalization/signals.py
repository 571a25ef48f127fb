"""Signals the host shop sends from its views; the personalization app records them as events.

Every signal takes ``request`` (the visitor and user come from it) and may take ``recommendation_id``
when the shopper arrived through a recommendation.

- ``product_viewed(sender, request, product)``
- ``product_added_to_cart(sender, request, product, quantity=1)``
- ``order_placed(sender, request, order)`` — after the order and its lines are saved
- ``search_performed(sender, request, query)``
"""
from django.dispatch import Signal

product_viewed = Signal()
product_added_to_cart = Signal()
order_placed = Signal()
search_performed = Signal()
