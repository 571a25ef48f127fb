from django.apps import AppConfig


class TestHostConfig(AppConfig):
    """A minimal host shop with its own label and field names, so hidden demo-shop dependencies show."""

    name = "tests.testhost"
    label = "testhost"
    default_auto_field = "django.db.models.BigAutoField"
