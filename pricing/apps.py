from django.apps import AppConfig


class PricingConfig(AppConfig):
    name = "pricing"
    verbose_name = "Pricing"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from personalization.ops import todos as admin_home

        from . import receivers
        from .todos import pricing_todos

        receivers.connect()
        admin_home.register("pricing", pricing_todos)
