"""Fixtures of the web UI tests: users in each role and a small fleet."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User

from tests.support import ui_fleet


def _user(username: str, role: str | None) -> User:
    user = User.objects.create_user(username=username, password="pw-" + username)
    if role:
        user.groups.add(Group.objects.get_or_create(name=role)[0])
    return user


@pytest.fixture
def viewer(db):
    return _user("vera", "viewer")


@pytest.fixture
def editor(db):
    return _user("eddie", "editor")


@pytest.fixture
def viewer_client(client, viewer):
    client.force_login(viewer)
    return client


@pytest.fixture
def editor_client(client, editor):
    client.force_login(editor)
    return client


@pytest.fixture
def fleet(db):
    return ui_fleet.small_fleet()
