"""lz4 TOAST compression of the large JSON columns (config.compression), on real PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection

from config.compression import LZ4_AVAILABLE, _sql
from reports import partitions
from tests.support import ingest as ing

pytestmark = pytest.mark.django_db

COLUMNS = {
    ("inventory_factset", "stable"),
    ("inventory_factset", "volatile"),
    ("inventory_edgeset", "edges"),
    ("inventory_cataloginputs", "inputs"),
    ("reports_report", "metrics"),
    ("reports_report", "logs"),
    ("reports_report", "resources"),
    ("ingest_command", "payload"),
}


def one(sql, params=()):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0]


@pytest.fixture
def lz4():
    if not one(f"SELECT {LZ4_AVAILABLE}"):
        pytest.skip("this PostgreSQL server was built without lz4 (the migrations leave pglz)")


def compression(table: str, column: str) -> str:
    return one(
        "SELECT a.attcompression FROM pg_attribute a WHERE a.attrelid = %s::regclass AND a.attname = %s",
        [table, column],
    )


def test_large_json_columns_use_lz4(lz4):
    assert {(t, c) for t, c in COLUMNS if compression(t, c) == "l"} == COLUMNS


def test_a_new_report_partition_takes_lz4(lz4):
    day = dt.date(2031, 3, 4)
    partitions.ensure_day(day)
    name = partitions.partition_name("reports_report", day)
    assert compression(name, "logs") == "l" and compression(name, "resources") == "l"


def test_a_stored_factset_is_lz4_compressed(lz4, client):
    from ingest import processing

    doc = ing.load("facts-v5-baseline-agent-node.json")
    assert ing.post(client, "replace facts", 5, doc).status_code == 200
    assert processing.process_batch(limit=10)["stored"] == 1
    assert one("SELECT pg_column_compression(stable) FROM inventory_factset") == "lz4"
    assert one("SELECT stable->'os'->>'family' FROM inventory_factset") == doc["values"]["os"]["family"]


def test_existing_partitions_are_altered_one_by_one(lz4):
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE lz4_probe (d date, j jsonb) PARTITION BY RANGE (d)")
        cursor.execute(
            "CREATE TABLE lz4_probe_1 PARTITION OF lz4_probe FOR VALUES FROM ('2030-01-01') TO ('2030-01-02')"
        )
        cursor.execute(_sql("lz4_probe", ["j"], "lz4"))
    assert compression("lz4_probe", "j") == "l" and compression("lz4_probe_1", "j") == "l"
    with connection.cursor() as cursor:
        cursor.execute(_sql("lz4_probe", ["j"], "default"))
    assert compression("lz4_probe_1", "j") == ""
