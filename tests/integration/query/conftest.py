import pytest

from tests.support import fleet


@pytest.fixture(scope="module")
def fleet_module(django_db_setup, django_db_blocker):
    """The fixed fixture fleet, committed once per test module and removed afterwards."""
    with django_db_blocker.unblock():
        fleet.clear()
        fleet.load()
    yield fleet
    with django_db_blocker.unblock():
        fleet.clear()


@pytest.fixture
def fleet_db(fleet_module, db):
    return fleet_module
