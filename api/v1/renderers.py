"""CSV export for every list endpoint (``?format=csv`` or ``Accept: text/csv``)."""

from __future__ import annotations

import csv
import io

import orjson
from rest_framework.renderers import BaseRenderer


def flatten(row, prefix="") -> dict:
    out = {}
    for key, value in (row or {}).items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, name + "."))
        elif isinstance(value, list):
            out[name] = orjson.dumps(value).decode()
        else:
            out[name] = value
    return out


class CSVRenderer(BaseRenderer):
    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if isinstance(data, dict) and "results" in data:
            rows = data["results"]
        elif isinstance(data, list):
            rows = data
        else:
            rows = [data]
        flat = [flatten(r) if isinstance(r, dict) else {"value": r} for r in rows]
        columns: list[str] = []
        for r in flat:
            for k in r:
                if k not in columns:
                    columns.append(k)
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        for r in flat:
            writer.writerow({k: ("" if v is None else v) for k, v in r.items()})
        return buffer.getvalue().encode("utf-8")
