"""The classification panel of the node page: the node's groups and why (from ``resolver.explain``)."""

from __future__ import annotations

from django.template.loader import render_to_string

from enc import resolver, store


def classification_for(node) -> str:
    try:
        snapshot = store.load_snapshot()
    except (RuntimeError, resolver.SnapshotError) as exc:
        return render_to_string("enc/node_panel.html", {"unavailable": str(exc)})
    facts = store.node_facts(node.certname) or {}
    explained = resolver.explain(snapshot, node.certname, facts)
    groups = [g for g in explained["groups"] if g["matched"]]
    return render_to_string(
        "enc/node_panel.html",
        {"x": explained, "matched": groups, "has_facts": bool(facts), "certname": node.certname},
    )
