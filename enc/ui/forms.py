"""The group edit form of the classification pages: text fields to the service's data shapes.

Rules, classes and variables are edited as JSON (PE's rule grammar can be pasted as is); pinned
certnames one per line. Parse errors are reported per field, like the service's validation.
"""

from __future__ import annotations

import json

FIELDS = (
    "name",
    "description",
    "parent",
    "environment",
    "environment_trumps",
    "rule",
    "pinned",
    "classes",
    "variables",
)


def _json(text: str, field: str, errors: dict, empty):
    text = (text or "").strip()
    if not text:
        return empty
    try:
        return json.loads(text)
    except ValueError as exc:
        errors.setdefault(field, []).append(f"not valid JSON: {exc}")
        return empty


def parse(post, *, is_root: bool = False) -> tuple[dict, dict[str, list[str]]]:
    """(data for enc.service, errors by field) from the submitted form."""
    errors: dict[str, list[str]] = {}
    data = {
        "name": post.get("name", ""),
        "description": post.get("description", ""),
        "environment": post.get("environment", "").strip(),
        "environment_trumps": post.get("environment_trumps") == "on",
        "rule": _json(post.get("rule", ""), "rule", errors, None),
        "pinned": [line.strip() for line in post.get("pinned", "").splitlines() if line.strip()],
        "classes": _json(post.get("classes", ""), "classes", errors, {}),
        "variables": _json(post.get("variables", ""), "variables", errors, {}),
    }
    if not is_root:
        data["parent"] = post.get("parent") or None
    if is_root:
        data.pop("rule")
        data.pop("pinned")
    return data, errors


def initial(group) -> dict:
    """The form's text values for an existing group (or the defaults for a new one)."""
    if group is None:
        return {
            "name": "",
            "description": "",
            "parent": "",
            "environment": "",
            "environment_trumps": False,
            "rule": "",
            "pinned": "",
            "classes": "{}",
            "variables": "{}",
        }
    return {
        "name": group.name,
        "description": group.description,
        "parent": str(group.parent_id or ""),
        "environment": group.environment,
        "environment_trumps": group.environment_trumps,
        "rule": json.dumps(group.rule, indent=2) if group.rule is not None else "",
        "pinned": "\n".join(group.pinned),
        "classes": json.dumps(group.classes, indent=2, sort_keys=True),
        "variables": json.dumps(group.variables, indent=2, sort_keys=True),
    }


def from_post(post) -> dict:
    """The submitted text values, to show the form again as typed."""
    values = {k: post.get(k, "") for k in FIELDS}
    values["environment_trumps"] = post.get("environment_trumps") == "on"
    return values
