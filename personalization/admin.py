"""The personalization app's admin: each concern registers its own pages (Django imports this module)."""
from .capture import admin as capture_admin  # noqa: F401 - events and API keys
from .ops import admin_home
from .profiles import admin as profiles_admin  # noqa: F401 - customer profiles, segments and builds
from .recommending import admin as recommending_admin  # noqa: F401 - model versions, retrain, preview, A/B tests

admin_home.install()
