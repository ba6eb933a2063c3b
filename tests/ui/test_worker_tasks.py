"""The UI's background work through a real Celery worker and broker: the fact page asks a worker
for a value distribution and shows it once computed; the beat job refreshes the run rollup."""

import datetime as dt
import json
import time

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from inventory.models import FactDistribution
from inventory.ui.tasks import ui_rollup_runs
from reports.models import RunHour
from tests.support import ui_fleet
from tests.support.stack import running, service_env, start_worker


def _wait(predicate, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.3)
    return False


@pytest.mark.stack
@pytest.mark.django_db(transaction=True)
def test_fact_distribution_and_rollup_through_a_worker(tmp_path, artifacts_dir):
    ui_fleet.small_fleet()
    user = User.objects.create_user("vera")
    user.groups.add(Group.objects.get_or_create(name="viewer")[0])
    client = Client()
    client.force_login(user)
    worker = start_worker(service_env(tmp_path), artifacts_dir, queues="default,housekeeping")
    with running(worker):
        url = "/facts/value/?path=" + json.dumps(["os", "family"])
        first = client.get(url)  # nothing counted yet: the page asks the worker
        assert first.status_code == 200
        # (the worker may already have answered by the time the page re-reads the row)
        assert first.context["computing"] == (b"data-reload-after" in first.content)
        assert _wait(
            lambda: FactDistribution.objects.filter(path_key='["os", "family"]', computed__isnull=False).exists()
        )
        page = client.get(url)
        assert not page.context["computing"]
        assert [(v["label"], v["count"]) for v in page.context["values"]] == [("Debian", 5), ("RedHat", 1)]

        ui_rollup_runs.apply_async(kwargs={"hours": 48})
        assert _wait(lambda: RunHour.objects.exists())
        hour = timezone.now().replace(minute=0, second=0, microsecond=0) - dt.timedelta(hours=5)
        assert RunHour.objects.filter(hour__gte=hour).values("runs").count() > 0


@pytest.mark.django_db
def test_rollup_runs_command_rebuilds_history(capsys):
    data = ui_fleet.small_fleet()
    call_command("rollup_runs", "--days", "4")
    total = sum(RunHour.objects.values_list("runs", flat=True))
    assert total == sum(len(reports) for reports in data["reports"].values()) + 1  # + the stale node's
    call_command("rollup_runs", "--days", "4")  # idempotent
    assert sum(RunHour.objects.values_list("runs", flat=True)) == total
    assert "rollup:" in capsys.readouterr().out
