"""The ENC endpoints served by the ``enc`` process (plain Django views: no DRF, no sessions).

``GET  /enc/v1/nodes/<certname>``           classify with the node's stored facts
``POST /enc/v1/nodes/<certname>``           classify with ``{"facts": {...}, "trusted": {...}}``
                                            (stored as the node's facts when newer)
``GET  /enc/v1/nodes/<certname>/explain``   why each group matched or not, where values came from

Authentication: an API token with scope ``classify`` (or ``admin``) in ``Authorization: Bearer``
(or ``X-Authentication``); anonymous requests only when ``ENC_ALLOW_ANONYMOUS`` is true.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime

import orjson
from django.conf import settings
from django.http import HttpResponse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.csrf import csrf_exempt

from api.authentication import token_from_headers
from api.models import ApiToken
from config import metrics  # ops: metrics
from config.security import request_allows  # ops: access policy
from enc import render, resolver, store

log = logging.getLogger("stagehand.enc")

CERTNAME_RE = re.compile(r"^[A-Za-z0-9._\-]{1,255}$")
VERSION_HEADER = "X-Stagehand-Classification-Version"


def _error(status: int, message: str, **extra) -> HttpResponse:
    body = {"error": message, **extra}
    response = HttpResponse(render.to_json(body), status=status, content_type="application/json")
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="stagehand-enc"'
    return response


def _authorise(request) -> HttpResponse | None:
    # ops: the access policy (config/security.py) identified the caller — token, client
    # certificate from a trusted proxy, or a network the operator opened: accept what it allows.
    if request_allows(request, "classify"):
        return None
    raw = token_from_headers(request.headers)
    if raw is None:
        if getattr(settings, "ENC_ALLOW_ANONYMOUS", False):
            return None
        return _error(401, "authentication required: send an API token with scope 'classify'")
    token = ApiToken.authenticate(raw)
    if token is None:
        return _error(401, "invalid, expired or revoked token")
    if not token.allows("classify"):
        return _error(403, "this token lacks the 'classify' scope")
    return None


def _check(request, certname: str) -> HttpResponse | None:
    if not CERTNAME_RE.match(certname):
        return _error(400, f"invalid certname {certname[:100]!r}: letters, digits, '.', '_', '-' only")
    return _authorise(request)


def _parse_timestamp(value, field: str) -> datetime:
    if not isinstance(value, str):
        raise ValueError(f"{field} must be an ISO 8601 timestamp string, got {value!r}")
    parsed = parse_datetime(value.replace("Z", "+00:00") if value.endswith("Z") else value)
    if parsed is None:
        raise ValueError(f"{field} is not an ISO 8601 timestamp: {value!r}")
    if timezone.is_naive(parsed):
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def _parse_post(body: bytes) -> dict:
    """The POSTed classification request, or ValueError naming what is wrong."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError('body must be a JSON object like {"facts": {...}, "trusted": {...}}')
    facts = data.get("facts", data.get("fact", data.get("values")))
    if not isinstance(facts, dict):
        raise ValueError('"facts" must be a JSON object of fact names to values')
    trusted = data.get("trusted")
    if trusted is not None and not isinstance(trusted, dict):
        raise ValueError('"trusted" must be a JSON object')
    stamp = data.get("producer_timestamp", data.get("timestamp"))
    producer_timestamp = _parse_timestamp(stamp, "producer_timestamp") if stamp is not None else None
    environment = data.get("environment")
    if environment is not None and (not isinstance(environment, str) or not re.match(r"^\w+$", environment)):
        raise ValueError(f'"environment" must be an environment name, got {environment!r}')
    producer = data.get("producer")
    if producer is not None and not isinstance(producer, str):
        raise ValueError('"producer" must be a string')
    return {
        "facts": facts,
        "trusted": trusted,
        "producer_timestamp": producer_timestamp,
        "environment": environment,
        "producer": producer,
    }


def _snapshot_and_facts(certname: str):
    """(snapshot, stored facts or None, stored producer timestamp) with one statement in the
    common case (the cached snapshot's version is current)."""
    cached = store.cache.peek()
    keys = store.snapshot_fact_keys(cached)
    key, facts, producer_ts = store.lookup(certname, keys)
    snapshot = store.cache.get(key)
    if snapshot is not cached and store.snapshot_fact_keys(snapshot) != keys:
        # New groups read other facts: fetch them (the version is already decided).
        _, facts, producer_ts = store.lookup(certname, store.snapshot_fact_keys(snapshot))
    return snapshot, facts, producer_ts


@csrf_exempt
@metrics.observe_classification  # ops: ENC classifications and latency
def classify(request, certname: str):
    if request.method not in ("GET", "POST"):
        return _error(405, f"method {request.method} not allowed; use GET or POST")
    problem = _check(request, certname)
    if problem is not None:
        return problem
    fmt = request.GET.get("format", "yaml")
    if fmt in ("yml",):
        fmt = "yaml"
    if fmt not in render.RENDERERS:
        return _error(400, f"format must be 'yaml' or 'json', got {fmt!r}")

    if request.method == "GET":
        snapshot, facts, _ = _snapshot_and_facts(certname)
        facts = facts or {}
        trusted = facts.get("trusted")
        trusted = trusted if isinstance(trusted, dict) else {}
    else:
        try:
            posted = _parse_post(request.body)
        except ValueError as exc:
            return _error(400, str(exc))
        snapshot, stored, stored_ts = _snapshot_and_facts(certname)
        facts = posted["facts"]
        trusted = posted["trusted"]
        if trusted is None:
            trusted = facts.get("trusted") if isinstance(facts.get("trusted"), dict) else None
        if trusted is None:
            # Puppet's cached fact files carry no trusted facts: keep the stored ones.
            if stored is not None and "trusted" in stored:
                trusted = stored["trusted"] if isinstance(stored["trusted"], dict) else {}
            else:
                trusted = store.stored_trusted(certname) or {}
        stamp = posted["producer_timestamp"]
        if stamp is None or stored_ts is None or stamp > stored_ts:
            document = dict(facts)
            if trusted:
                document["trusted"] = trusted
            store.store_facts(
                certname,
                document,
                producer_timestamp=stamp or timezone.now(),
                environment=posted["environment"]
                or facts.get("environment")
                or facts.get("agent_specified_environment"),
                producer=posted["producer"],
            )

    result = resolver.classify(snapshot, certname, facts, trusted)
    if result.conflicts:
        log.warning("classification conflict", extra={"certname": certname, "version": snapshot.version})
        response = _error(409, result.conflict_message(), kind="classification-conflict", conflicts=result.conflicts)
    else:
        response = HttpResponse(render.RENDERERS[fmt](result.as_enc()), content_type=render.CONTENT_TYPES[fmt])
    response[VERSION_HEADER] = str(snapshot.version)
    return response


@csrf_exempt
def explain(request, certname: str):
    if request.method != "GET":
        return _error(405, f"method {request.method} not allowed; use GET")
    problem = _check(request, certname)
    if problem is not None:
        return problem
    snapshot = store.cache.get(store.current_key())
    facts = store.node_facts(certname)
    known = facts is not None
    facts = facts or {}
    trusted = facts.get("trusted") if isinstance(facts.get("trusted"), dict) else {}
    body = resolver.explain(snapshot, certname, facts, trusted)
    body["known_node"] = known
    response = HttpResponse(render.to_json(body), content_type="application/json")
    response[VERSION_HEADER] = str(snapshot.version)
    return response
