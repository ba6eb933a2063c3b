"""The SSE event stream against a real gunicorn web process: order, live delivery, resuming from
Last-Event-ID, filters, the gap notice and the bounded stream length."""

from __future__ import annotations

import json

import pytest
import requests

from reports.orchestration import events
from reports.orchestration.models import Event
from tests.hooks.factory import deactivate, store_report
from tests.hooks.helpers import token
from tests.support.stack import running, service_env, start_service

pytestmark = [pytest.mark.stack, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def web(tmp_path, artifacts_dir):
    process = start_service("web", service_env(tmp_path, EVENTS_STREAM_HEARTBEAT_SECONDS="0.5"), artifacts_dir)
    with running(process):
        yield process


class SSEReader:
    """A minimal SSE parser over a streaming requests response."""

    def __init__(self, response):
        self.response = response
        self.raw = response.raw

    def next(self) -> dict | None:
        fields: dict = {}
        while True:
            line = self.raw.readline()
            if not line:
                return None  # the server ended the stream
            line = line.decode().rstrip("\n")
            if line == "":
                if "event" in fields or "data" in fields:
                    if "data" in fields:
                        fields["data"] = json.loads(fields["data"])
                    return fields
                continue
            if line.startswith(":"):
                continue
            name, _, value = line.partition(": ")
            fields[name] = value

    def events(self, n: int, kinds=None) -> list[dict]:
        out = []
        while len(out) < n:
            item = self.next()
            assert item is not None, f"stream ended after {out}"
            if kinds is None or item.get("event") in kinds:
                out.append(item)
        return out


def open_stream(web, raw, params=None, headers=None):
    response = requests.get(
        web.url + "/api/v1/events/stream",
        params=params or {},
        headers={"Authorization": f"Bearer {raw}", "Accept": "text/event-stream", **(headers or {})},
        stream=True,
        timeout=60,
    )
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/event-stream")
    return SSEReader(response)


def test_stream_in_order_live_and_resumable(web):
    raw = token(("read",))
    store_report("s1.example", status="unchanged", code_id="c1")
    store_report("s2.example", status="changed", code_id="c1")
    reader = open_stream(web, raw, {"last_event_id": "0", "kind": "report_stored", "max_seconds": "30"})
    first = reader.events(2, kinds={"report_stored"})
    assert [e["data"]["certname"] for e in first] == ["s1.example", "s2.example"]
    assert [e["data"]["status"] for e in first] == ["unchanged", "changed"]
    assert int(first[0]["id"]) < int(first[1]["id"])
    assert first[1]["data"]["data"]["code_id"] == "c1" and first[1]["data"]["environment"] == "production"
    # Live: events stored while the stream is open arrive, in commit order.
    for i in range(3, 6):
        store_report(f"s{i}.example", status="failed" if i == 4 else "unchanged")
    live = reader.events(3, kinds={"report_stored"})
    assert [e["data"]["certname"] for e in live] == ["s3.example", "s4.example", "s5.example"]
    ids = [int(e["id"]) for e in first + live]
    assert ids == sorted(ids)
    reader.response.close()

    # Reconnect with Last-Event-ID: exactly the events after it, then the stream ends by itself.
    resumed = open_stream(
        web, raw, {"kind": "report_stored", "max_seconds": "1"}, headers={"Last-Event-ID": str(ids[2])}
    )
    got = []
    while (item := resumed.next()) is not None:
        got.append(item)
    assert [e["data"]["certname"] for e in got if e["event"] == "report_stored"] == ["s4.example", "s5.example"]
    assert got[-1]["event"] == "end"


def test_stream_filters(web):
    raw = token(("read",))
    store_report("f1.example", status="failed", environment="staging")
    store_report("f2.example", status="failed", environment="production")
    store_report("f3.example", status="unchanged", environment="staging")
    deactivate("f3.example")
    reader = open_stream(
        web, raw, {"last_event_id": "0", "environment": "staging", "status": "failed", "max_seconds": "1"}
    )
    got = [e for e in iter(reader.next, None) if e["event"] != "end"]
    assert [(e["event"], e["data"]["certname"]) for e in got] == [
        ("report_stored", "f1.example"),
        ("node_status_changed", "f1.example"),
    ]
    reader = open_stream(web, raw, {"last_event_id": "0", "kind": "node_deactivated", "max_seconds": "1"})
    got = [e for e in iter(reader.next, None) if e["event"] != "end"]
    assert [(e["data"]["certname"], e["data"]["status"]) for e in got] == [("f3.example", "deactivated")]
    query = 'nodes[certname] { certname in ["f2.example", "f3.example"] }'
    reader = open_stream(web, raw, {"last_event_id": "0", "kind": "report_stored", "query": query, "max_seconds": "1"})
    got = [e for e in iter(reader.next, None) if e["event"] != "end"]
    assert [e["data"]["certname"] for e in got] == ["f2.example", "f3.example"]  # f3 is inactive now, still matches
    headers = {"Authorization": f"Bearer {raw}"}
    bad = requests.get(
        web.url + "/api/v1/events/stream", params={"query": "nodes[certname] {"}, headers=headers, timeout=10
    )
    assert bad.status_code == 400 and bad.json()["field"] == "query"


def test_stream_says_when_history_was_pruned_and_rejects_bad_input(web):
    raw = token(("read",))
    for i in range(4):
        store_report(f"g{i}.example", status="changed")
    first_id = Event.objects.order_by("seq").first().seq
    events.prune(max_rows=2, max_age_hours=24)
    reader = open_stream(web, raw, {"max_seconds": "1"}, headers={"Last-Event-ID": str(first_id)})
    gap = reader.next()
    assert gap["event"] == "gap" and gap["data"]["last_event_id"] == first_id
    assert gap["data"]["oldest_kept_id"] == Event.objects.order_by("seq").first().seq
    headers = {"Authorization": f"Bearer {raw}"}
    bad = requests.get(web.url + "/api/v1/events/stream", params={"status": "purple"}, headers=headers, timeout=10)
    assert bad.status_code == 400 and bad.json()["field"] == "status"
    bad = requests.get(web.url + "/api/v1/events/stream", headers={**headers, "Last-Event-ID": "abc"}, timeout=10)
    assert bad.status_code == 400 and bad.json()["field"] == "Last-Event-ID"
    assert requests.get(web.url + "/api/v1/events/stream", timeout=10).status_code in (401, 403)


def test_event_history_pages(web):
    raw = token(("read",))
    for i in range(5):
        store_report(f"h{i}.example", status="unchanged")
    headers = {"Authorization": f"Bearer {raw}"}
    page = requests.get(
        web.url + "/api/v1/events", params={"kind": "report_stored", "limit": 3}, headers=headers, timeout=10
    ).json()
    assert [e["certname"] for e in page["events"]] == ["h0.example", "h1.example", "h2.example"] and page["more"]
    page = requests.get(
        web.url + "/api/v1/events",
        params={"kind": "report_stored", "after": page["last_event_id"]},
        headers=headers,
        timeout=10,
    ).json()
    assert [e["certname"] for e in page["events"]] == ["h3.example", "h4.example"] and not page["more"]


def test_streams_beyond_the_per_process_cap_are_told_to_come_back(tmp_path, artifacts_dir):
    """HOOKS_MAX_LONG_REQUESTS=1: while one stream is open, another gets ``retry`` and ends at
    once (EventSource reconnects later) instead of taking another worker thread."""
    process = start_service("web", service_env(tmp_path, HOOKS_MAX_LONG_REQUESTS="1"), artifacts_dir)
    with running(process):
        raw = token(("read",))
        first = open_stream(process, raw, {"max_seconds": "30"})
        assert first.raw.readline() == b"retry: 2000\n"  # the first stream is being served
        second = requests.get(
            process.url + "/api/v1/events/stream",
            headers={"Authorization": f"Bearer {raw}"},
            timeout=30,
        )
        assert second.status_code == 200 and second.text == "retry: 5000\n\n"
        first.response.close()
