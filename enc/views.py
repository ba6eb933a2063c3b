"""The ENC endpoints served by the ``enc`` process (plain Django views: no DRF, no sessions).

``GET  /enc/v1/nodes/<certname>``           classify with the node's stored facts
``POST /enc/v1/nodes/<certname>``           classify with ``{"facts": {...}, "trusted": {...}}``
                                            (stored as the node's facts when newer)
``GET  /enc/v1/nodes/<certname>/explain``   why each group matched or not, where values came from

Access: the ``classify`` scope under the access policy (``config/security.py``): an API token
(``Authorization: Bearer``), a client certificate through a trusted proxy, an open network, or
``ENC_ALLOW_ANONYMOUS=true``. A token on a classify request is checked here, in the lookup
statement (``config.security.token_checked_by_view``).
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
from api.models import hash_token
from config import metrics  # ops: metrics
from config.security import policy
from enc import answers, render, resolver, store

log = logging.getLogger("stagehand.enc")

CERTNAME_RE = re.compile(r"^[A-Za-z0-9._\-]{1,255}$")
VERSION_HEADER = "X-Stagehand-Classification-Version"
# Whether this process answered from an answer it already had for this node (enc.answers).
CACHE_HEADER = "X-Stagehand-Answer-Cache"


def _response(body: bytes, content_type: str, status: int = 200) -> HttpResponse:
    # Content-Length explicitly: the enc process runs without CommonMiddleware (which sets it),
    # and a sized body lets the server keep the connection alive without chunking.
    response = HttpResponse(body, content_type=content_type, status=status)
    response["Content-Length"] = str(len(body))
    return response


def _error(status: int, message: str, **extra) -> HttpResponse:
    body = {"error": message, **extra}
    response = _response(render.to_json(body), "application/json", status)
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="stagehand-enc"'
    return response


def _policy_problem(request) -> HttpResponse | None:
    """The access policy middleware has identified the caller (token, client certificate, open
    network, anonymous scopes); fail closed when it has not run."""
    access = getattr(request, "stagehand_access", None)
    if access is not None and access.allows("classify"):
        return None
    if access is None or not access.authenticated:
        return _error(401, "authentication required: send an API token (or client certificate) with scope 'classify'")
    return _error(403, f"{access.describe()} lacks the 'classify' scope")


def _token_problem(request, raw: str, found: store.Lookup) -> HttpResponse | None:
    """A token the access policy left to the view (``config.security.token_checked_by_view``),
    checked by the lookup statement."""
    if found.token_id is None:
        return _error(401, "invalid, expired or revoked token")
    if "classify" not in found.token_scopes and "admin" not in found.token_scopes:
        # Rare: let the full policy decide (open networks or anonymous scopes may still allow it).
        access = policy().identify(request)
        if isinstance(access, HttpResponse):
            return access
        request.stagehand_access = access
        return _policy_problem(request)
    if found.token_touch_due:
        store.touch_token(found.token_id)
    return None


def _check(request, certname: str) -> HttpResponse | None:
    if not CERTNAME_RE.match(certname):
        return _error(400, f"invalid certname {certname[:100]!r}: letters, digits, '.', '_', '-' only")
    return _policy_problem(request)


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


def _lookup(request, certname: str, need_stored: bool):
    """(snapshot, stored facts entry or None, lookup, auth problem or None) with one statement in
    the common case. ``need_stored``: the request needs the node's stored facts (a GET, or a POST
    without trusted facts when the rules read them); they are read only when this process does
    not already hold them for the current version (``enc.answers``)."""
    raw = token_from_headers(request.headers)
    cached = store.cache.peek()
    keys = store.snapshot_fact_keys(cached) if need_stored else ()
    entry = answers.stored(cached, certname) if need_stored else None
    known = (cached.key, entry.identity) if entry is not None else None
    found = store.lookup(certname, keys, hash_token(raw) if raw is not None else None, known)
    problem = _token_problem(request, raw, found) if raw is not None else _policy_problem(request)
    if problem is not None:
        return None, None, None, problem
    snapshot = store.cache.get(found.key)
    if not need_stored:
        return snapshot, None, found, None
    if found.facts_skipped and snapshot is cached:
        return snapshot, entry, found, None  # the facts this process holds are still the stored ones
    facts, identity = found.facts, found.facts_identity
    if found.facts_skipped or (snapshot is not cached and store.snapshot_fact_keys(snapshot) != keys):
        # Another version was loaded meanwhile, reading other facts: fetch them (the version is
        # already decided).
        again = store.lookup(certname, store.snapshot_fact_keys(snapshot))
        facts, identity = again.facts, again.facts_identity
    entry = answers.remember_stored(snapshot, certname, identity, facts, _cache_limit())
    return snapshot, entry, found, None


def _cache_limit() -> int:
    return getattr(settings, "ENC_ANSWER_CACHE_NODES", answers.DEFAULT_LIMIT)


def _trusted_of(facts: dict | None) -> dict:
    trusted = facts.get("trusted") if facts else None
    return trusted if isinstance(trusted, dict) else {}


@csrf_exempt
@metrics.observe_classification  # ops: ENC classifications and latency
def classify(request, certname: str):
    if request.method not in ("GET", "POST"):
        return _error(405, f"method {request.method} not allowed; use GET or POST")
    if not CERTNAME_RE.match(certname):
        return _error(400, f"invalid certname {certname[:100]!r}: letters, digits, '.', '_', '-' only")
    fmt = request.GET.get("format", "yaml") if request.META.get("QUERY_STRING") else "yaml"
    if fmt in ("yml",):
        fmt = "yaml"
    if fmt not in render.RENDERERS:
        return _error(400, f"format must be 'yaml' or 'json', got {fmt!r}")

    if request.method == "GET":
        snapshot, entry, _, problem = _lookup(request, certname, True)
        if problem is not None:
            return problem
        result = entry.result
        hit = result is not None
        if not hit:
            facts = entry.facts or {}
            result = entry.result = resolver.classify_memo(snapshot, certname, facts, _trusted_of(facts))
    else:
        try:
            posted = _parse_post(request.body)
        except ValueError as exc:
            posted, bad_body = None, str(exc)
        facts = posted["facts"] if posted else {}
        trusted = posted["trusted"] if posted else None
        if trusted is None:
            trusted = facts.get("trusted") if isinstance(facts.get("trusted"), dict) else None
        cached = store.cache.peek()
        snapshot, entry, found, problem = _lookup(
            request, certname, trusted is None and (cached is None or cached.uses_trusted)
        )
        if problem is not None:
            return problem  # authentication first, then the body
        if posted is None:
            return _error(400, bad_body)
        stamp = posted["producer_timestamp"]
        stored_ts = found.producer_timestamp
        newer = stamp is None or stored_ts is None or stamp > stored_ts
        if trusted is None:
            # Puppet's cached fact files carry no trusted facts: use the stored ones. When the
            # rules read trusted facts they came with the lookup; otherwise they are only needed
            # to keep them in the stored document.
            if entry is not None:
                trusted = _trusted_of(entry.facts)
            elif newer and stored_ts is not None:
                trusted = store.stored_trusted(certname) or {}
            else:
                trusted = {}
        if newer:
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
                stored_hash=found.facts_hash,
            )
        digest = answers.posted_digest(snapshot, facts, trusted)
        result = answers.posted(snapshot, certname, digest)
        hit = result is not None
        if not hit:
            result = resolver.classify_memo(snapshot, certname, facts, trusted)
            answers.remember_posted(snapshot, certname, digest, result, _cache_limit())

    if result.conflicts:
        log.warning("classification conflict", extra={"certname": certname, "version": snapshot.version})
        response = _error(
            409, result.conflict_message(certname), kind="classification-conflict", conflicts=result.conflicts
        )
    else:
        body = result.rendered.get(fmt)
        if body is None:
            body = result.rendered[fmt] = render.RENDERERS[fmt](result.as_enc())
        response = _response(body, render.CONTENT_TYPES[fmt])
    response[VERSION_HEADER] = str(snapshot.version)
    response[CACHE_HEADER] = "hit" if hit else "miss"
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
    response = _response(render.to_json(body), "application/json")
    response[VERSION_HEADER] = str(snapshot.version)
    return response
