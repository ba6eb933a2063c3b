"""Row JSON built by concatenation (compiler.json_object_sql) parses to what json_build_object
gives, for awkward keys and every kind of value."""

from __future__ import annotations

import orjson
import pytest
from django.db import connection

from inventory.query.compiler import Params, json_object_sql

pytestmark = pytest.mark.django_db


def evaluate(items):
    params = Params()
    sql = f"SELECT {json_object_sql(params, items)}"
    with connection.cursor() as cursor:
        cursor.execute(sql, params.values)
        return cursor.fetchone()[0]


def test_keys_and_values_round_trip():
    items = [
        ('quote"and\\backslash', "'x'::text"),
        ("ünïcode ✓", "42"),
        ("nested", "json_build_object('a', 1, 'b', ARRAY[1, 2])"),
        ("doc", """'{"k": [1, null, "v"]}'::jsonb"""),
        ("missing", "NULL::text"),
        ("bare null", "NULL"),
        ("when", "'2026-11-22 05:00:00+00'::timestamptz"),
        ("flag", "true"),
        ("ratio", "1.50::numeric"),
        ("text with\nnewline", "E'line1\\nline2\\t\"q\"'"),
    ]
    text = evaluate(items)
    assert orjson.loads(text) == {
        'quote"and\\backslash': "x",
        "ünïcode ✓": 42,
        "nested": {"a": 1, "b": [1, 2]},
        "doc": {"k": [1, None, "v"]},
        "missing": None,
        "bare null": None,
        "when": "2026-11-22T05:00:00+00:00",
        "flag": True,
        "ratio": 1.5,
        "text with\nnewline": 'line1\nline2\t"q"',
    }
    # The same document as json_build_object would give, up to whitespace.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT json_build_object('a', 'x'::text, 'b', NULL::text, 'c', '2026-11-22 05:00:00+00'::timestamptz)::text"
        )
        reference = orjson.loads(cursor.fetchone()[0])
    assert (
        orjson.loads(
            evaluate([("a", "'x'::text"), ("b", "NULL::text"), ("c", "'2026-11-22 05:00:00+00'::timestamptz")])
        )
        == reference
    )


def test_no_keys_is_an_empty_object():
    assert evaluate([]) == "{}"


def test_keys_are_bound_not_spliced():
    params = Params()
    sql = json_object_sql(params, [("x'); DROP TABLE inventory_node; --", "1")])
    assert "DROP TABLE" not in sql
    assert any("DROP TABLE" in str(v) for v in params.values.values())


def test_an_uncast_parameter_is_read_as_text():
    params = Params()
    value = params.add('it\'s "quoted"')
    sql = f"SELECT {json_object_sql(params, [('v', value)])}"
    with connection.cursor() as cursor:
        cursor.execute(sql, params.values)
        assert orjson.loads(cursor.fetchone()[0]) == {"v": 'it\'s "quoted"'}


ENTITIES = ["nodes", "reports", "events", "resources", "catalogs", "facts", "factsets", "inventory", "edges"]


@pytest.mark.parametrize("entity", ENTITIES)
def test_typed_fields_without_to_json_give_the_same_rows(fleet_db, monkeypatch, entity):
    """Integers, booleans and timestamps spliced in as text answer exactly as through to_json."""
    from inventory.query import build, compiler, run_rows

    fast = run_rows(build(entity, None, compiler.Paging(limit=50)))
    monkeypatch.setattr(compiler, "_field_json", lambda field, sql: sql)
    plain = run_rows(build(entity, None, compiler.Paging(limit=50)))
    assert fast and fast == plain
