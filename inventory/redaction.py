"""Values Puppet marks sensitive are never stored in clear.

* Catalogs: a resource's ``sensitive_parameters`` (wire format) names parameters whose values
  were ``Sensitive``; their values are replaced by :data:`REDACTED` before storage (the name and
  the fact that the parameter is set stay visible).
* Reports: an event with ``redacted: true`` (Puppet sets it for sensitive properties) keeps no
  old/new value; in YAML reports from the ``http`` processor a
  ``!ruby/object:Puppet::Pops::Types::PSensitiveType::Sensitive`` value becomes :data:`REDACTED`
  wherever it appears (see ``reports/parsing/yaml_loader.py``).

Plain functions over the parsed wire dicts; the ingest parsers call them.
"""

from __future__ import annotations

REDACTED = "Sensitive [value redacted]"
SENSITIVE_YAML_TAG = "!ruby/object:Puppet::Pops::Types::PSensitiveType::Sensitive"


def redact_resource(raw: dict, resource: dict) -> dict:
    """``resource`` (normalised) with the parameters ``raw['sensitive_parameters']`` names redacted."""
    names = raw.get("sensitive_parameters") if isinstance(raw, dict) else None
    if not names or not isinstance(names, list):
        return resource
    params = resource.get("parameters") or {}
    hidden = {name for name in names if isinstance(name, str) and name in params}
    if hidden:
        resource["parameters"] = {k: (REDACTED if k in hidden else v) for k, v in params.items()}
    return resource


def redact_event(raw: dict, event: dict) -> dict:
    """``event`` (normalised) without old/new values when Puppet marked it redacted."""
    if isinstance(raw, dict) and raw.get("redacted") is True:
        event["old_value"] = REDACTED if event.get("old_value") is not None else None
        event["new_value"] = REDACTED if event.get("new_value") is not None else None
    return event
