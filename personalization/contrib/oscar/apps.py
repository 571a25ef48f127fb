from django.apps import AppConfig


class OscarIntegrationConfig(AppConfig):
    name = "personalization.contrib.oscar"
    label = "shopsense_oscar"  # Oscar's own app config is labelled "oscar"
    verbose_name = "ShopSense for django-oscar"

    def ready(self) -> None:
        from django.core import checks

        from . import receivers
        from .checks import check_oscar_settings

        checks.register(check_oscar_settings, checks.Tags.models)
        receivers.connect()
