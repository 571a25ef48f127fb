from django.apps import AppConfig
from django.core import checks


class PersonalizationConfig(AppConfig):
    name = "personalization"
    verbose_name = "Personalization"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from celery.signals import worker_init, worker_process_init

        from . import tasks  # noqa: F401 - registers every task, so services can enqueue them by name
        from .capture import receivers as capture_receivers
        from .host.checks import check_artifact_storage, check_host_contract
        from .host.threads import limit_worker_threads
        from .ops import todos
        from .profiles import receivers as profile_receivers

        _use_shopsense_celery_app()
        checks.register(check_host_contract, checks.Tags.models)
        checks.register(check_artifact_storage)
        capture_receivers.connect()
        profile_receivers.connect()
        todos.register("personalization", todos.personalization_todos)
        # SHOPSENSE_THREADS for the whole worker (the solo pool's process, and each prefork child)
        worker_init.connect(limit_worker_threads, weak=False, dispatch_uid="shopsense.threads.worker")
        worker_process_init.connect(limit_worker_threads, weak=False, dispatch_uid="shopsense.threads.process")


def _use_shopsense_celery_app() -> None:
    """Load ShopSense's Celery app (``personalization.worker``) unless the host made one of its own.

    Without any app, Celery's fallback app ignores the host's ``CELERY_*`` settings, and what the web
    processes enqueue would go to a broker nobody consumes.
    """
    from celery import _state

    if getattr(_state._tls, "current_app", None) is None:
        from . import worker  # noqa: F401
