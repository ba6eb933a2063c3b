"""Changing node groups: validation, the save-time conflict check, versioning and the audit log.

Every change runs in one transaction that first locks the classification state row (so changes
are serialised), applies the change, compiles the new group tree, refuses the change when it
would put any known node into a classification conflict it was not in before, then bumps the
version and writes an audit entry. The ENC sees either all of it or none of it.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from django.db import transaction

from enc import fleet, resolver, rules, store
from enc.models import ROOT_ID, STATE_ID, AuditEntry, ClassificationState, NodeGroup

CLASS_RE = re.compile(r"^(::)?[a-z][a-z0-9_]*(::[a-z][a-z0-9_]*)*$")
PARAM_RE = re.compile(r"^[a-z_][a-zA-Z0-9_]*$")
VARIABLE_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
ENVIRONMENT_RE = re.compile(r"^[A-Za-z0-9_]+$")
EDITABLE = (
    "name",
    "description",
    "parent",
    "rule",
    "pinned",
    "classes",
    "variables",
    "environment",
    "environment_trumps",
)


class InvalidGroup(ValueError):
    """Bad input: ``errors`` maps field names to messages."""

    def __init__(self, errors: dict[str, list[str]]):
        self.errors = errors
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items()))


class ChangeRefused(Exception):
    """A valid change that cannot be applied (conflicts, children, the root)."""

    def __init__(self, message: str, *, status: int = 409, affected: list | None = None):
        self.message = message
        self.status = status
        self.affected = affected or []
        super().__init__(message)


class NotFound(LookupError):
    pass


def group_to_dict(group: NodeGroup) -> dict:
    return {
        "id": str(group.id),
        "name": group.name,
        "description": group.description,
        "parent": str(group.parent_id) if group.parent_id else None,
        "rule": group.rule,
        "pinned": list(group.pinned),
        "classes": group.classes,
        "variables": group.variables,
        "environment": group.environment,
        "environment_trumps": group.environment_trumps,
        "serial": group.serial,
        "created": group.created.isoformat().replace("+00:00", "Z") if group.created else None,
        "last_edited": group.last_edited.isoformat().replace("+00:00", "Z") if group.last_edited else None,
    }


def _audit_view(data: dict | None) -> dict | None:
    if data is None:
        return None
    return {k: data[k] for k in ("id", *EDITABLE)}


# --- validation ------------------------------------------------------------------------------


def _clean(data: dict, instance: NodeGroup | None, partial: bool) -> dict:
    if not isinstance(data, dict):
        raise InvalidGroup({"non_field_errors": ["expected a JSON object"]})
    errors: dict[str, list[str]] = {}

    def err(field, message):
        errors.setdefault(field, []).append(message)

    unknown = set(data) - set(EDITABLE) - {"id", "serial", "created", "last_edited"}
    for key in sorted(unknown):
        err(key, f"unknown field; editable fields are {list(EDITABLE)}")
    cleaned: dict[str, Any] = {}
    is_root = instance is not None and instance.id == ROOT_ID
    for key in EDITABLE:
        if key not in data:
            if not partial and instance is None and key in ("name",):
                err(key, "this field is required")
            if not partial and instance is None and key == "parent":
                err(key, f"this field is required (the id of the parent group; the root is {ROOT_ID})")
            continue
        value = data[key]
        if key == "name":
            if not isinstance(value, str) or not value.strip() or len(value) > 255:
                err(key, "must be a non-empty string of at most 255 characters")
            else:
                cleaned[key] = value.strip()
        elif key == "description":
            if not isinstance(value, str):
                err(key, "must be a string")
            else:
                cleaned[key] = value
        elif key == "parent":
            if is_root:
                if value is not None:
                    err(key, "the root group has no parent")
                continue
            try:
                cleaned[key] = uuid.UUID(str(value))
            except ValueError:
                err(key, f"must be the id (uuid) of an existing group, got {value!r}")
        elif key == "rule":
            if is_root and value is not None:
                err(key, "the root group holds every node and has no rule")
            elif value is not None:
                for problem in rules.validate(value):
                    err(key, f"{problem['path']}: {problem['message']}")
            cleaned[key] = value
        elif key == "pinned":
            if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
                err(key, "must be a list of certnames")
            elif is_root and value:
                err(key, "the root group holds every node; pinning is meaningless there")
            else:
                cleaned[key] = sorted({v.strip() for v in value})
        elif key == "classes":
            if not isinstance(value, dict):
                err(key, 'must be an object {"class": {"parameter": value}}')
                continue
            out = {}
            for cls, params in value.items():
                if not CLASS_RE.match(cls):
                    err(key, f"{cls!r} is not a valid class name")
                    continue
                if params is None:
                    params = {}
                if not isinstance(params, dict):
                    err(key, f"parameters of {cls!r} must be an object, got {params!r}")
                    continue
                for param in params:
                    if not PARAM_RE.match(param):
                        err(key, f"{cls}: {param!r} is not a valid parameter name")
                out[cls.removeprefix("::")] = params
            cleaned[key] = out
        elif key == "variables":
            if not isinstance(value, dict):
                err(key, 'must be an object {"name": value}')
                continue
            for name in value:
                if not VARIABLE_RE.match(name):
                    err(key, f"{name!r} is not a valid variable name")
            cleaned[key] = value
        elif key == "environment":
            if value is None:
                value = ""
            if not isinstance(value, str) or (value and not ENVIRONMENT_RE.match(value)):
                err(key, f"must be an environment name (letters, digits, underscore), got {value!r}")
            else:
                cleaned[key] = value
        elif key == "environment_trumps":
            if not isinstance(value, bool):
                err(key, "must be true or false")
            else:
                cleaned[key] = value
    if not errors:
        trumps = cleaned.get("environment_trumps", instance.environment_trumps if instance else False)
        environment = cleaned.get("environment", instance.environment if instance else "")
        if trumps and not environment:
            err("environment", "an environment group (environment_trumps) must set an environment")
    if errors:
        raise InvalidGroup(errors)
    return cleaned


# --- changes ---------------------------------------------------------------------------------


def _lock_state() -> ClassificationState:
    return ClassificationState.objects.select_for_update().get(id=STATE_ID)


def _check_and_commit(
    state: ClassificationState,
    old: resolver.Snapshot,
    changed_id: str,
    *,
    action: str,
    group_id,
    group_name: str,
    before: dict | None,
    after: dict | None,
    actor: str,
    token: str,
) -> int:
    try:
        new = store.load_snapshot()
    except resolver.SnapshotError as exc:
        raise InvalidGroup({"parent": [str(exc)]}) from None
    # Only the nodes in the changed group before or after are evaluated, on the fact paths the
    # rules read (enc.fleet); the same pass moves the group's precomputed membership.
    affected = fleet.check_change(old, new, changed_id)
    if affected:
        names = [a["certname"] for a in affected]
        shown = ", ".join(names[:20]) + (f" and {len(names) - 20} more" if len(names) > 20 else "")
        raise ChangeRefused(
            f"this change would put {len(names)} known node(s) into a classification conflict: {shown}",
            affected=affected,
        )
    state.version += 1
    state.save(update_fields=["version", "changed"])
    fleet.commit(state.version, state.changed)
    changed = sorted(k for k in EDITABLE if (before or {}).get(k) != (after or {}).get(k))
    AuditEntry.objects.create(
        version=state.version,
        actor=actor or "-",
        token=token or "",
        action=action,
        group_id=group_id,
        group_name=group_name,
        changed_fields=changed,
        before=_audit_view(before),
        after=_audit_view(after),
    )
    return state.version


def _parent_exists(cleaned: dict) -> None:
    if "parent" in cleaned and not NodeGroup.objects.filter(id=cleaned["parent"]).exists():
        raise InvalidGroup({"parent": [f"no group with id {cleaned['parent']}"]})


def _name_free(cleaned: dict, exclude=None) -> None:
    if "name" in cleaned:
        qs = NodeGroup.objects.filter(name=cleaned["name"])
        if exclude is not None:
            qs = qs.exclude(id=exclude)
        if qs.exists():
            raise InvalidGroup({"name": [f"a group named {cleaned['name']!r} already exists"]})


def create_group(data: dict, *, actor: str, token: str = "") -> NodeGroup:
    cleaned = _clean(data, None, partial=False)
    with transaction.atomic():
        state = _lock_state()
        _parent_exists(cleaned)
        _name_free(cleaned)
        old = store.load_snapshot()
        parent = cleaned.pop("parent")
        group = NodeGroup.objects.create(parent_id=parent, **cleaned)
        after = group_to_dict(group)
        _check_and_commit(
            state,
            old,
            str(group.id),
            action=AuditEntry.Action.CREATE,
            group_id=group.id,
            group_name=group.name,
            before=None,
            after=after,
            actor=actor,
            token=token,
        )
    return group


def update_group(group_id, data: dict, *, actor: str, token: str = "", partial: bool = True) -> NodeGroup:
    with transaction.atomic():
        state = _lock_state()
        group = NodeGroup.objects.filter(id=group_id).first()
        if group is None:
            raise NotFound(f"no group with id {group_id}")
        if isinstance(data, dict) and "serial" in data and data["serial"] != group.serial:
            # Optimistic concurrency: the caller edited an older read of the group.
            raise ChangeRefused(
                f"group {group.name!r} changed since it was read (serial {group.serial}, "
                f"the change was based on {data['serial']!r}); read it again"
            )
        if not partial:
            # A full update: fields not given go back to their defaults.
            data = {
                "description": "",
                "rule": None,
                "pinned": [],
                "classes": {},
                "variables": {},
                "environment": "",
                "environment_trumps": False,
                **data,
            }
            if group.id == ROOT_ID:
                data.setdefault("parent", None)
        cleaned = _clean(data, group, partial=True)
        if not partial and "name" not in cleaned:
            raise InvalidGroup({"name": ["this field is required"]})
        if cleaned.get("parent") is not None and str(cleaned["parent"]) == str(group.id):
            raise InvalidGroup({"parent": ["a group cannot be its own parent"]})
        _parent_exists(cleaned)
        _name_free(cleaned, exclude=group.id)
        old = store.load_snapshot()
        before = group_to_dict(group)
        if "parent" in cleaned:
            group.parent_id = cleaned.pop("parent")
        for key, value in cleaned.items():
            setattr(group, key, value)
        after = group_to_dict(group)
        if _audit_view(before) == _audit_view(after):
            return group  # nothing changed: no new version, no audit entry
        group.serial += 1
        group.save()
        after = group_to_dict(group)
        _check_and_commit(
            state,
            old,
            str(group.id),
            action=AuditEntry.Action.UPDATE,
            group_id=group.id,
            group_name=group.name,
            before=before,
            after=after,
            actor=actor,
            token=token,
        )
    return group


def delete_group(group_id, *, actor: str, token: str = "") -> None:
    with transaction.atomic():
        state = _lock_state()
        group = NodeGroup.objects.filter(id=group_id).first()
        if group is None:
            raise NotFound(f"no group with id {group_id}")
        if group.id == ROOT_ID:
            raise ChangeRefused("the root group cannot be deleted", status=400)
        children = list(NodeGroup.objects.filter(parent=group).values_list("name", flat=True))
        if children:
            raise ChangeRefused(
                f"group {group.name!r} has child groups {sorted(children)}; delete or move them first", status=409
            )
        old = store.load_snapshot()
        before = group_to_dict(group)
        group.delete()
        _check_and_commit(
            state,
            old,
            str(before["id"]),
            action=AuditEntry.Action.DELETE,
            group_id=before["id"],
            group_name=before["name"],
            before=before,
            after=None,
            actor=actor,
            token=token,
        )


# --- queries for the management API ----------------------------------------------------------


def rule_with_inherited(group_id) -> Any:
    """The group's rule AND-ed with its ancestors' rules (None where a group has none)."""
    chain = []
    group = NodeGroup.objects.filter(id=group_id).first()
    if group is None:
        raise NotFound(f"no group with id {group_id}")
    while group is not None and group.parent_id is not None:
        chain.append(group)
        group = group.parent
    parts = [g.rule for g in reversed(chain) if g.rule is not None]
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else ["and", *parts]


def preview(rule: Any, *, parent_id=None, pinned: list | None = None, limit: int = 1000) -> dict:
    """Which known (active) nodes a rule (or the pinned certnames) would hold now, inside
    ``parent_id`` if given. Raises NotFound for an unknown parent, ValueError for a bad id."""
    if rule is not None:
        rules.compile_rule(rule)  # RuleError (a ValueError) before touching the database
    if parent_id is not None:
        parent_id = uuid.UUID(str(parent_id))
        if not NodeGroup.objects.filter(id=parent_id).exists():
            raise NotFound(f"no group with id {parent_id}")
    return fleet.preview(rule, parent_id, list(pinned or ()), limit)


def members(group_id, limit: int = 1000, after: str | None = None) -> dict:
    """Known (active) nodes in the group now: ``count`` and one page of certnames in order,
    after ``after``; ``next_after`` is the cursor of the next page (None on the last)."""
    try:
        group_id = uuid.UUID(str(group_id))
    except ValueError:
        raise NotFound(f"no group with id {group_id}") from None
    if not NodeGroup.objects.filter(id=group_id).exists():
        raise NotFound(f"no group with id {group_id}")
    return fleet.members(group_id, after=after, limit=limit)
