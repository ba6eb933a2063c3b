"""Renderers for classification answers.

YAML is what Puppet's exec node terminus reads (``Puppet::Util::Yaml.safe_load(output,
[Symbol])``): a plain mapping with ``classes``, ``parameters`` and (optionally) ``environment``,
no tags. PyYAML's CSafeDumper emits no tags and quotes strings YAML 1.1 would read as another
type (``"yes"``, ``"1.0"``, ``"2024-01-01"``); on top of that we quote the strings Ruby's Psych
would still misread: a leading ``:`` (a Symbol) and digit groups with commas (``1,000`` is an
integer to Psych).
"""

from __future__ import annotations

import re

import orjson
import yaml

_PSYCH_RISKY = re.compile(r"^(:|[-+]?[0-9][0-9_,]*,[0-9_,]*(\.[0-9]*)?$)")


class EncDumper(yaml.CSafeDumper):
    pass


def _represent_str(dumper, data: str):
    if _PSYCH_RISKY.match(data):
        return dumper.represent_scalar("tag:yaml.org,2002:str", data, style='"')
    return dumper.represent_str(data)


EncDumper.add_representer(str, _represent_str)


def to_yaml(data: dict) -> bytes:
    return yaml.dump(
        data,
        Dumper=EncDumper,
        default_flow_style=False,
        allow_unicode=True,
        sort_keys=True,
        explicit_start=True,
        width=10_000,
    ).encode("utf-8")


def to_json(data) -> bytes:
    return orjson.dumps(data, option=orjson.OPT_SORT_KEYS)


CONTENT_TYPES = {"yaml": "text/yaml; charset=utf-8", "json": "application/json"}
RENDERERS = {"yaml": to_yaml, "json": to_json}
