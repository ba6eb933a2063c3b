"""Units of the web UI that do not need a request: charts, keyset cursors, catalog diff, where."""

import datetime as dt
import xml.etree.ElementTree as ET

import pytest
from django.utils import timezone

from inventory import catalog_diff
from inventory.ui import charts, paging
from inventory.ui.where import WhereError, catalogs, class_title
from tests.support import ui_fleet


def _svg(markup):
    return ET.fromstring(str(markup))


def test_charts_are_accessible_well_formed_svg_and_escape_labels():
    svg = _svg(
        charts.stacked_bars(
            ["a<b", "c"],
            {"failed": [1, 0], "unchanged": [2, 3]},
            title="Runs & more",
            desc="d",
            hrefs=["/x?a=1&b=2", None],
        )
    )
    ns = "{http://www.w3.org/2000/svg}"
    assert svg.get("role") == "img"
    assert svg.find(f"{ns}title").text == "Runs & more"
    rects = svg.findall(f".//{ns}rect")
    assert len(rects) == 3  # zero values draw nothing
    assert svg.find(f"{ns}a").get("href") == "/x?a=1&b=2"
    line = _svg(charts.lines(["1", "2", "3"], {"avg": [1.0, None, 2.0]}, title="t", desc="d"))
    assert len(line.findall(f".//{ns}circle")) == 2  # a gap splits the series
    hist = _svg(charts.histogram(["0", "1", "2"], [1, 9, 1], title="t", desc="d", highlight_above=4))
    assert [r.get("class") for r in hist.findall(f".//{ns}rect")] == ["s-bar", "s-hot", "s-bar"]
    bars = _svg(charts.hbars([("x" * 50, 3, "/n?v=1"), ("y", 1, None)], title="t", desc="d"))
    assert "…" in "".join(bars.itertext())


@pytest.mark.parametrize(
    ("value", "expected"), [(0, 4), (3, 4), (5, 8), (37, 40), (1234, 2000), (900, 1000), (0.4, 0.4)]
)
def test_chart_axis_maximum_is_round(value, expected):
    assert charts._nice_max(value) == pytest.approx(expected)


def test_cursors_round_trip_and_reject_garbage():
    now = timezone.now()
    assert paging.decode(paging.encode([now, "web01"])) == [now, "web01"]
    assert paging.decode(paging.encode([None, 3])) == [None, 3]
    with pytest.raises(paging.BadCursor):
        paging.decode("%%%")
    with pytest.raises(paging.BadCursor):
        paging.decode(paging.encode([1])[:-2] + "x")


def test_class_titles_are_capitalised_per_segment():
    assert class_title("nginx::config") == "Nginx::Config"
    assert class_title("::ntp") == "Ntp"


@pytest.mark.django_db
def test_catalog_diff_compares_by_type_and_title():
    node = ui_fleet.node("a.example.com")
    now = timezone.now()
    same = ui_fleet.resource("Class", "Main")
    old = ui_fleet.catalog(
        node, [same, ui_fleet.resource("File", "/f", {"mode": "0600", "owner": "root"})], now - dt.timedelta(hours=2)
    )
    new = ui_fleet.catalog(
        node, [same, ui_fleet.resource("File", "/f", {"mode": "0644"}), ui_fleet.resource("User", "bob")], now
    )
    diff = catalog_diff.diff(old, new)
    assert diff.unchanged == 1 and (diff.added, diff.removed, diff.changed) == (1, 0, 1)
    change = next(c for c in diff.changes if c.kind == "changed")
    assert [(p.name, p.kind, p.old, p.new) for p in change.params] == [
        ("parameters.mode", "changed", "0600", "0644"),
        ("parameters.owner", "removed", "root", None),
    ]


@pytest.mark.django_db
def test_where_needs_a_criterion_and_finds_history():
    with pytest.raises(WhereError):
        catalogs(title="x")
    node = ui_fleet.node("b.example.com")
    now = timezone.now()
    ntp = ui_fleet.resource("Class", "Ntp")
    ui_fleet.catalog(node, [ntp], now - dt.timedelta(days=2))
    ui_fleet.catalog(node, [ui_fleet.resource("Class", "Main")], now - dt.timedelta(days=1))
    assert catalogs(klass="ntp")[0].count() == 0
    assert catalogs(klass="ntp", at=now - dt.timedelta(hours=36))[0].count() == 1
    assert catalogs(klass="ntp", at=now - dt.timedelta(days=3))[0].count() == 0
    assert catalogs(klass="nosuch")[0].count() == 0
