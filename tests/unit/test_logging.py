"""Structured log lines: one per request with duration and outcome, in JSON or key=value."""

import json
import logging

import pytest
from django.test import override_settings

from config.observability import StructuredFormatter, request_id_var


def test_json_and_keyvalue_formatting():
    record = logging.LogRecord("stagehand.request", logging.INFO, __file__, 1, "request", (), None)
    record.status = 200
    record.duration_ms = 1.5
    record.path = "/a b"
    token = request_id_var.set("abc123")
    try:
        data = json.loads(StructuredFormatter("json").format(record))
        line = StructuredFormatter("keyvalue").format(record)
    finally:
        request_id_var.reset(token)
    assert data["msg"] == "request"
    assert data["status"] == 200
    assert data["duration_ms"] == 1.5
    assert data["request_id"] == "abc123"
    assert data["ts"].endswith("Z")
    assert "status=200" in line
    assert 'path="/a b"' in line


@pytest.mark.django_db
def test_one_line_per_request(client, caplog):
    with override_settings(ROOT_URLCONF="config.urls.enc"), caplog.at_level(logging.INFO, "stagehand.request"):
        response = client.get("/healthz", HTTP_X_REQUEST_ID="req-42")
        client.get("/no-such-page")
    assert response["X-Request-ID"] == "req-42"
    records = [r for r in caplog.records if r.name == "stagehand.request"]
    assert len(records) == 2
    ok, missing = records
    assert (ok.method, ok.path, ok.status, ok.outcome) == ("GET", "/healthz", 200, "ok")
    assert ok.duration_ms >= 0
    assert (missing.status, missing.outcome) == (404, "client_error")
