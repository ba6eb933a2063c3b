"""Markup checks over every UI page: one <h1>, a <main>, every form control labelled, tables with
header cells, charts with a title, no inline script or style (the CSP forbids them)."""

import json
from html.parser import HTMLParser

import pytest

from enc import service
from enc.models import ROOT_ID
from reports import rollups


class _Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.labels_for: set[str] = set()
        self.controls: list[dict] = []
        self.h1 = 0
        self.main = 0
        self.tables = 0
        self.ths = 0
        self.svgs: list[dict] = []
        self.inline: list[str] = []
        self.stack: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "label":
            if a.get("for"):
                self.labels_for.add(a["for"])
        if tag in ("input", "select", "textarea") and a.get("type") not in ("hidden", "submit"):
            self.controls.append({**a, "_tag": tag, "_in_label": "label" in self.stack})
        if tag == "h1":
            self.h1 += 1
        if tag == "main":
            self.main += 1
        if tag == "table":
            self.tables += 1
        if tag == "th":
            self.ths += 1
        if tag == "svg":
            self.svgs.append(a)
        if tag == "script" and "src" not in a:
            self.inline.append("script")
        if "style" in a or tag == "style":
            self.inline.append(f"style on <{tag}>")
        if any(k.startswith("on") for k in a):
            self.inline.append(f"event handler on <{tag}>")
        if tag not in ("input", "br", "meta", "link", "img", "rect", "line", "circle", "polyline"):
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if tag in self.stack:
            while self.stack and self.stack.pop() != tag:
                pass


def _check(html: str, url: str):
    page = _Page()
    page.feed(html)
    assert page.h1 == 1, f"{url}: {page.h1} <h1>"
    assert page.main == 1, url
    for control in page.controls:
        labelled = (
            control.get("id") in page.labels_for
            or control["_in_label"]
            or control.get("aria-label")
            or control.get("aria-labelledby")
        )
        assert labelled, f"{url}: unlabelled <{control['_tag']} name={control.get('name')!r}>"
    if page.tables:
        assert page.ths >= page.tables, f"{url}: a table without header cells"
    for svg in page.svgs:
        assert svg.get("role") == "img" and svg.get("aria-labelledby"), f"{url}: chart without a title"
    assert not page.inline, f"{url}: {page.inline}"
    return page


@pytest.mark.django_db
def test_every_page_is_labelled_and_free_of_inline_code(editor_client, fleet):
    rollups.refresh(
        fleet["reports"]["web01.example.com"][0].producer_timestamp,
        fleet["nodes"]["app01.example.com"].report_timestamp,
    )
    group = service.create_group({"name": "Web", "parent": str(ROOT_ID), "rule": ["~", "name", "^web"]}, actor="t")
    report = fleet["reports"]["web01.example.com"][-1]
    from inventory import fact_stats

    fact_stats.compute(["os", "family"])
    urls = [
        "/",
        "/nodes/",
        "/nodes/?status=failed",
        "/nodes/web02.example.com/",
        "/nodes/web02.example.com/facts/",
        "/nodes/web02.example.com/resources/",
        "/nodes/web02.example.com/catalogs/",
        "/nodes/web01.example.com/events/",
        "/reports/",
        f"/reports/{report.id}/",
        "/facts/",
        "/facts/?q=os",
        "/facts/value/?path=" + json.dumps(["os", "family"]),
        "/where/",
        "/where/?class=nginx",
        "/inbox/",
        "/classification/",
        f"/classification/{group.id}/",
        f"/classification/{group.id}/edit/",
        f"/classification/{group.id}/members/",
        "/classification/new/",
        "/classification/audit/",
    ]
    checked = {}
    for url in urls:
        response = editor_client.get(url)
        assert response.status_code == 200, url
        checked[url] = _check(response.content.decode(), url)
    # The checker sees what it checks.
    assert len(checked["/"].svgs) == 3 and len(checked["/nodes/"].controls) >= 5
    assert checked["/nodes/"].tables == 1 and len(checked[f"/classification/{group.id}/edit/"].controls) >= 8


@pytest.mark.django_db
def test_login_page_markup(client):
    response = client.get("/accounts/login/")
    _check(response.content.decode(), "/accounts/login/")
