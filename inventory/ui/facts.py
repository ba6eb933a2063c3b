"""Facts in the UI: the facts tree, fact-path parsing, the node filter by fact value, and the
value distribution of one fact (precomputed, see ``FactDistribution``)."""

from __future__ import annotations

import json
from urllib.parse import urlencode

from django.db.models import Q
from django.urls import reverse
from django.utils.html import escape
from django.utils.safestring import mark_safe


class FactPathError(ValueError):
    pass


def parse_path(text: str) -> list:
    """A fact path from the URL: a JSON array (``["os","family"]``, exact) or dotted (``os.family``)."""
    text = (text or "").strip()
    if not text:
        raise FactPathError("no fact path given")
    if text.startswith("["):
        try:
            path = json.loads(text)
        except ValueError as exc:
            raise FactPathError(f"fact path {text!r} is not a JSON array") from exc
        if not isinstance(path, list) or not path or not all(isinstance(p, str | int) for p in path):
            raise FactPathError(f"fact path {text!r} must be a non-empty array of names and indexes")
        return path
    return text.split(".")


def path_key(path: list) -> str:
    return json.dumps(path)


def path_label(path: list) -> str:
    return ".".join(str(p) for p in path)


def nodes_with_value(qs, path_text: str, value_text: str):
    """Nodes whose fact at ``path`` equals the JSON ``value`` (GIN containment on both documents)."""
    path = parse_path(path_text)
    if any(isinstance(p, int) for p in path):
        raise FactPathError("filtering by an array element is not supported; filter on the array's parent")
    try:
        value = json.loads(value_text)
    except ValueError:
        value = value_text  # a bare string
    doc = value
    for part in reversed(path):
        doc = {part: doc}
    return qs.filter(Q(factset__stable__contains=doc) | Q(factset__volatile__contains=doc))


def fact_href(path: list) -> str:
    return reverse("ui:fact") + "?" + urlencode({"path": path_key(path)})


def tree_html(facts: dict) -> str:
    """Nested lists of the fact document: hashes and arrays fold (``<details>``), each leaf carries
    ``data-path`` for the client-side filter and links to the fact's distribution page."""
    out: list[str] = ["<ul>"]

    def leaf(path, key, value):
        shown = json.dumps(value, ensure_ascii=False)
        label = path_label(path)
        out.append(
            f'<li data-path="{escape(label)} = {escape(shown)}"><a class="k" href="{escape(fact_href(path))}">'
            f'{escape(key)}</a> = <span class="v">{escape(shown)}</span></li>'
        )

    def node(path, key, value, top):
        if isinstance(value, dict | list) and value:
            items = value.items() if isinstance(value, dict) else enumerate(value)
            kind = f"{{{len(value)}}}" if isinstance(value, dict) else f"[{len(value)}]"
            out.append(
                f'<li data-path="{escape(path_label(path))}"><details{" data-open open" if top and len(value) <= 3 else ""}>'
            )
            out.append(f'<summary><span class="k">{escape(key)}</span> <span class="muted">{kind}</span></summary><ul>')
            for child_key, child in sorted(items, key=lambda kv: str(kv[0])):
                node([*path, child_key], str(child_key), child, False)
            out.append("</ul></details></li>")
        else:
            leaf(path, key, value)

    for key in sorted(facts):
        node([key], key, facts[key], True)
    out.append("</ul>")
    return mark_safe("".join(out))
