from django.contrib import admin

from .models import Item


@admin.register(Item)
class ItemAdmin(admin.ModelAdmin):
    """The host's own product admin (the tests delete products through it)."""

    list_display = ("code", "title", "price", "stock")
