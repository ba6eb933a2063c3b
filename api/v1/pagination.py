"""Keyset (cursor) pagination for every list: stable under inserts, O(page) at any depth."""

from __future__ import annotations

from rest_framework.pagination import CursorPagination


class KeysetPagination(CursorPagination):
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000
    csv_max_page_size = 10_000

    def get_page_size(self, request):
        size = super().get_page_size(request)
        if getattr(request, "accepted_renderer", None) is not None and request.accepted_renderer.format == "csv":
            raw = request.query_params.get(self.page_size_query_param)
            if raw and raw.isdigit():
                return max(1, min(int(raw), self.csv_max_page_size))
            return self.csv_max_page_size
        return size


def keyset(*ordering: str) -> type[KeysetPagination]:
    return type("Keyset_" + "_".join(o.strip("-") for o in ordering), (KeysetPagination,), {"ordering": ordering})
