from django.apps import AppConfig


class InventoryConfig(AppConfig):
    name = "inventory"
    verbose_name = "Inventory"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from personalization.ops import todos as admin_home

        from . import receivers
        from .todos import inventory_todos

        admin_home.register("inventory", inventory_todos)
        receivers.connect()
