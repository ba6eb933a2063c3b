"""Fact value distributions over the active fleet, computed set-based in PostgreSQL.

The facts of a node are ``stable || volatile`` with each top-level key in exactly one document, so
the value at a path is ``coalesce(volatile #> path, stable #> path)``.
"""

from __future__ import annotations

import json
import time

from django.db import connection
from django.utils import timezone

from inventory.models import FactDistribution

TOP_VALUES = 200


def compute(path: list) -> FactDistribution:
    """Count the values of the fact at ``path`` over active nodes and store the result."""
    started = time.perf_counter()
    segments = [str(p) for p in path]
    with connection.cursor() as cursor:
        cursor.execute(
            """
            WITH v AS (
                SELECT coalesce(f.volatile #> %s::text[], f.stable #> %s::text[]) AS value
                FROM inventory_factset f JOIN inventory_node n ON n.id = f.node_id
                WHERE n.deactivated IS NULL AND n.expired IS NULL
            ), c AS (
                SELECT value, count(*) AS n FROM v WHERE value IS NOT NULL GROUP BY value
            )
            SELECT (SELECT coalesce(sum(n), 0) FROM c), (SELECT count(*) FROM c),
                   (SELECT coalesce(json_agg(json_build_array(value, n) ORDER BY n DESC, value::text), '[]')
                    FROM (SELECT value, n FROM c ORDER BY n DESC, value::text LIMIT %s) top)
            """,
            [segments, segments, TOP_VALUES],
        )
        nodes, distinct, values = cursor.fetchone()
    if isinstance(values, str):
        values = json.loads(values)
    now = timezone.now()
    dist, _ = FactDistribution.objects.update_or_create(
        path_key=json.dumps(path),
        defaults=dict(
            requested=now,
            computed=now,
            nodes=int(nodes),
            distinct=int(distinct),
            values=values,
            seconds=time.perf_counter() - started,
        ),
    )
    return dist
