"""Helpers for the enc tests: known nodes with facts, API clients with scoped tokens."""

from __future__ import annotations

from datetime import UTC, datetime

from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from api.models import ApiToken
from enc.models import ROOT_ID
from inventory.models import Factset, Node

ROOT = str(ROOT_ID)


def make_node(certname: str, facts: dict, *, trusted: dict | None = None, stamp: datetime | None = None) -> Node:
    stamp = stamp or datetime(2026, 1, 1, tzinfo=UTC)
    document = dict(facts)
    document["trusted"] = trusted if trusted is not None else {"certname": certname, "extensions": {}}
    node = Node.objects.create(certname=certname, facts_timestamp=stamp, facts_producer_timestamp=stamp)
    Factset.objects.create(node=node, timestamp=stamp, producer_timestamp=stamp, hash="x", stable=document, volatile={})
    return node


def token(scopes: list[str], username: str = "ops", staff: bool = False) -> tuple[str, ApiToken]:
    user, _ = get_user_model().objects.get_or_create(username=username, defaults={"is_staff": staff})
    tok, raw = ApiToken.issue(user=user, name=f"{username}-{'-'.join(scopes)}", scopes=scopes)
    return raw, tok


def api_client(scopes: list[str], username: str = "ops") -> APIClient:
    raw, _ = token(scopes, username)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client
