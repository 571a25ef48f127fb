import pytest
from django.core.management import call_command
from django_celery_beat.models import PeriodicTask

from personalization.management.commands.install_schedules import collect_schedules

pytestmark = pytest.mark.django_db


def test_install_schedules_creates_every_default_once():
    call_command("install_schedules")
    call_command("install_schedules")

    names = sorted(PeriodicTask.objects.values_list("name", flat=True))
    assert names == sorted(spec.name for spec in collect_schedules())
    flush = PeriodicTask.objects.get(task="personalization.flush_events")
    assert (flush.interval.every, flush.interval.period) == (10, "seconds")


def test_install_schedules_keeps_an_owners_change_unless_reset():
    call_command("install_schedules")
    PeriodicTask.objects.filter(task="personalization.flush_events").update(enabled=False, description="mine")

    call_command("install_schedules")
    assert PeriodicTask.objects.get(task="personalization.flush_events").description == "mine"

    call_command("install_schedules", "--reset")
    assert PeriodicTask.objects.get(task="personalization.flush_events").description != "mine"


def test_the_worker_heartbeat_runs_every_30_seconds_on_the_default_queue():
    from personalization.host.routing import route_task

    call_command("install_schedules")

    heartbeat = PeriodicTask.objects.get(task="personalization.worker_heartbeat")
    assert (heartbeat.interval.every, heartbeat.interval.period) == (30, "seconds")
    assert route_task("personalization.worker_heartbeat", (), {}, {}) == {"queue": "default"}


@pytest.mark.parametrize(("gpu_worker", "queue"), [(False, "ml"), (True, "gpu")])
def test_torch_training_goes_to_the_gpu_queue_only_when_a_gpu_worker_exists(settings, gpu_worker, queue):
    from personalization.host.routing import route_task

    settings.SHOPSENSE_GPU_QUEUE = gpu_worker
    assert route_task("inventory.plan_restock", (), {}, {}) == {"queue": queue}  # trains the torch MLP
    assert route_task("personalization.retrain_recommenders", (), {}, {}) == {"queue": "ml"}  # numpy / sklearn
    assert route_task("personalization.flush_events", (), {}, {}) == {"queue": "default"}


def test_the_gpu_queue_setting_is_read_from_the_environment(monkeypatch):
    import importlib

    import shop_project.settings as project_settings

    monkeypatch.setenv("SHOPSENSE_GPU_QUEUE", "1")
    assert importlib.reload(project_settings).SHOPSENSE_GPU_QUEUE is True
    monkeypatch.delenv("SHOPSENSE_GPU_QUEUE")
    assert importlib.reload(project_settings).SHOPSENSE_GPU_QUEUE is False
