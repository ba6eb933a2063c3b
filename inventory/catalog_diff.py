"""Differences between two catalog versions (content-addressed resource sets).

Resources are identified by (type, title). A resource whose id is in both sets is unchanged (the
id is the content hash). One present under the same (type, title) in both with different ids is
*changed*: its parameters (and tags, file, line, exported) are compared key by key.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from inventory.models import Catalog, Resource

_MISSING = object()


@dataclass
class ParamChange:
    name: str
    old: object = None
    new: object = None
    kind: str = "changed"  # added | removed | changed


@dataclass
class ResourceChange:
    type: str
    title: str
    kind: str  # added | removed | changed
    old: Resource | None = None
    new: Resource | None = None
    params: list[ParamChange] = field(default_factory=list)


@dataclass
class CatalogDiff:
    old: Catalog
    new: Catalog
    changes: list[ResourceChange]
    unchanged: int
    edges_added: list = field(default_factory=list)
    edges_removed: list = field(default_factory=list)

    def count(self, kind: str) -> int:
        return sum(1 for change in self.changes if change.kind == kind)

    @property
    def added(self) -> int:
        return self.count("added")

    @property
    def removed(self) -> int:
        return self.count("removed")

    @property
    def changed(self) -> int:
        return self.count("changed")


def _attributes(resource: Resource) -> dict:
    attrs = {f"parameters.{k}": v for k, v in (resource.parameters or {}).items()}
    attrs["tags"] = sorted(resource.tags or [])
    attrs["exported"] = resource.exported
    attrs["file"] = resource.file
    attrs["line"] = resource.line
    return attrs


def compare_resources(old: Resource, new: Resource) -> list[ParamChange]:
    before, after = _attributes(old), _attributes(new)
    changes = []
    for name in sorted(before.keys() | after.keys()):
        a, b = before.get(name, _MISSING), after.get(name, _MISSING)
        if a == b:
            continue
        if a is _MISSING:
            changes.append(ParamChange(name, None, b, "added"))
        elif b is _MISSING:
            changes.append(ParamChange(name, a, None, "removed"))
        else:
            changes.append(ParamChange(name, a, b, "changed"))
    return changes


def diff(old: Catalog, new: Catalog) -> CatalogDiff:
    old_ids = set(old.resource_set.resource_ids)
    new_ids = set(new.resource_set.resource_ids)
    only_old, only_new = old_ids - new_ids, new_ids - old_ids
    fields = ["id", "type", "title", "parameters", "tags", "exported", "file", "line"]
    loaded = {r.id: r for r in Resource.objects.filter(id__in=only_old | only_new).only(*fields)}
    before = {(loaded[i].type, loaded[i].title): loaded[i] for i in only_old if i in loaded}
    after = {(loaded[i].type, loaded[i].title): loaded[i] for i in only_new if i in loaded}
    changes = []
    for key in sorted(before.keys() | after.keys()):
        a, b = before.get(key), after.get(key)
        if a and b:
            changes.append(ResourceChange(key[0], key[1], "changed", a, b, compare_resources(a, b)))
        elif a:
            changes.append(ResourceChange(key[0], key[1], "removed", old=a))
        else:
            changes.append(ResourceChange(key[0], key[1], "added", new=b))
    edges_before = {tuple(e) for e in (old.edge_set.edges if old.edge_set else [])}
    edges_after = {tuple(e) for e in (new.edge_set.edges if new.edge_set else [])}
    return CatalogDiff(
        old=old,
        new=new,
        changes=changes,
        unchanged=len(old_ids & new_ids),
        edges_added=sorted(edges_after - edges_before),
        edges_removed=sorted(edges_before - edges_after),
    )
