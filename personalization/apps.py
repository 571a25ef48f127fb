from django.apps import AppConfig
from django.core import checks


class PersonalizationConfig(AppConfig):
    name = "personalization"
    verbose_name = "Personalization"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import profile_receivers, receivers
        from .checks import check_host_contract

        checks.register(check_host_contract, checks.Tags.models)
        receivers.connect()
        profile_receivers.connect()
