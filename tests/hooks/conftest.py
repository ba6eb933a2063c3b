import pytest


@pytest.fixture(autouse=True, scope="session")
def _stop_hooks_listener(django_db_setup):
    """The in-process LISTEN thread holds a connection to the test database: stop it at the end."""
    yield
    from reports.orchestration.notify import hub

    hub.stop()
