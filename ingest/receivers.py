"""HTTP envelope handling for the write endpoints (no Django views here: plain functions the
views call, unit-testable). Every problem raises ``CommandError`` with the HTTP status to use."""

from __future__ import annotations

import datetime as dt
import zlib
from dataclasses import dataclass

import orjson

from ingest.commands import (
    RECEIVED_TIME_DEFAULT,
    CommandError,
    command_name,
    command_version,
    normalise,
    parse_time,
)
from reports.parsing import ReportParseError, parse_report_body

ALLOWED_PARAMS = {"command", "version", "certname", "producer-timestamp", "checksum", "secondsToWaitForCompletion"}


@dataclass
class Accepted:
    command: str
    version: int
    certname: str
    producer_timestamp: object
    payload: bytes  # what the inbox stores
    payload_encoding: str
    payload_format: str
    source: str
    wait_seconds: float | None = None


def read_body(raw: bytes, content_encoding: str | None, max_bytes: int) -> bytes:
    """Decode the HTTP body (gzip or identity) without ever holding more than ``max_bytes``."""
    encoding = (content_encoding or "identity").strip().lower()
    if encoding in ("", "identity"):
        if len(raw) > max_bytes:
            raise CommandError(f"the command body is larger than the limit of {max_bytes} bytes", 413)
        return raw
    if encoding not in ("gzip", "x-gzip"):
        raise CommandError(f"unsupported Content-Encoding {content_encoding!r} (gzip or identity)", 415)
    decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = decoder.decompress(raw, max_bytes + 1)
    except zlib.error as exc:
        raise CommandError(f"the body is not valid gzip: {exc}") from None
    if len(out) > max_bytes or decoder.unconsumed_tail:
        raise CommandError(f"the decompressed command is larger than the limit of {max_bytes} bytes", 413)
    if not decoder.eof:
        raise CommandError("the body is not valid gzip: truncated stream")
    return out


def check_content_type(content_type: str | None, allowed: set[str]) -> str | None:
    if not content_type:
        return None
    base = content_type.split(";", 1)[0].strip().lower()
    if base not in allowed:
        raise CommandError(f"unsupported Content-Type {content_type!r} (expected {' or '.join(sorted(allowed))})", 415)
    return base


def check_accept(accept: str | None) -> None:
    if not accept:
        return
    for part in accept.split(","):
        media = part.split(";", 1)[0].strip().lower()
        if media in ("application/json", "*/*", "application/*"):
            return
    raise CommandError(f"cannot answer in a type the Accept header {accept!r} allows (application/json)", 406)


def _json(body: bytes):
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise CommandError(f"malformed JSON: {exc}") from None


def accept_command(params: dict, headers: dict, raw: bytes, max_bytes: int) -> Accepted:
    """Validate a ``POST /pdb/cmd/v1`` request completely; return what the inbox stores."""
    unknown = sorted(set(params) - ALLOWED_PARAMS)
    if unknown:
        raise CommandError(f"unsupported query parameter(s): {', '.join(unknown)}")
    check_accept(headers.get("accept"))
    check_content_type(headers.get("content-type"), {"application/json"})
    encoding = (headers.get("content-encoding") or "identity").strip().lower()
    body = read_body(raw, encoding, max_bytes)
    wait = params.get("secondsToWaitForCompletion")
    wait_seconds = None
    if wait not in (None, ""):
        try:
            wait_seconds = float(wait)
        except ValueError:
            raise CommandError(f"'secondsToWaitForCompletion' must be a number, got {wait!r}") from None
        if wait_seconds < 0:
            raise CommandError("'secondsToWaitForCompletion' must not be negative")
    stored, stored_encoding = (raw, "gzip") if encoding in ("gzip", "x-gzip") else (body, "identity")
    if "command" not in params and "version" not in params and "certname" not in params:
        # The deprecated form: {"command", "version", "payload"} in the body.
        doc = _json(body)
        if not isinstance(doc, dict) or "command" not in doc:
            raise CommandError("missing parameter 'command'")
        name = command_name(doc.get("command"))
        version = command_version(name, doc.get("version"))
        payload = doc.get("payload")
        if isinstance(payload, str):
            payload = _json(payload.encode())
        if payload is None:
            raise CommandError("missing field 'payload'")
        url_certname = None
        stored, stored_encoding = orjson.dumps(payload), "identity"
    else:
        name = command_name(params.get("command"))
        version = command_version(name, params.get("version"))
        url_certname = params.get("certname")
        if not url_certname or not url_certname.strip():
            raise CommandError("missing parameter 'certname'")
        payload = _json(body)
    param_pts = params.get("producer-timestamp")
    if param_pts and isinstance(payload, dict) and payload.get("producer_timestamp") is None:
        # The payload has none: the parameter stands in (the inbox row keeps it for the worker).
        payload = dict(payload, producer_timestamp=parse_time(param_pts, "producer-timestamp"))
    cmd = normalise(name, version, payload, url_certname)
    pts = cmd.get("producer_timestamp")
    if pts is None and name in RECEIVED_TIME_DEFAULT:
        pts = dt.datetime.now(dt.UTC)
    return Accepted(
        command=name,
        version=version,
        certname=cmd["certname"],
        producer_timestamp=pts,
        payload=stored,
        payload_encoding=stored_encoding,
        payload_format="json",
        source="puppetdb",
        wait_seconds=wait_seconds,
    )


YAML_TYPES = {"application/x-yaml", "application/yaml", "text/yaml", "text/x-yaml"}
JSON_TYPES = {"application/json"}


def accept_report_upload(headers: dict, raw: bytes, max_bytes: int) -> Accepted:
    """Validate a ``POST /reports/upload`` (Puppet's ``http`` report processor)."""
    check_accept(headers.get("accept"))
    ctype = check_content_type(headers.get("content-type"), YAML_TYPES | JSON_TYPES | {"application/octet-stream"})
    encoding = (headers.get("content-encoding") or "identity").strip().lower()
    body = read_body(raw, encoding, max_bytes)
    if ctype in JSON_TYPES:
        fmt = "json"
    elif ctype in YAML_TYPES:
        fmt = "yaml"
    else:
        fmt = "json" if body.lstrip()[:1] in (b"{", b"[") else "yaml"
    try:
        wire = parse_report_body(body, fmt)
    except ReportParseError as exc:
        raise CommandError(str(exc)) from None
    cmd = normalise("store_report", 8, wire)
    stored, stored_encoding = (raw, "gzip") if encoding in ("gzip", "x-gzip") else (body, "identity")
    return Accepted(
        command="store_report",
        version=8,
        certname=cmd["certname"],
        producer_timestamp=cmd["producer_timestamp"],
        payload=stored,
        payload_encoding=stored_encoding,
        payload_format=fmt,
        source="http",
    )
