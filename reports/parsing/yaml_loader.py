"""Safe loading of the Ruby-tagged YAML that Puppet writes.

``RubyYamlLoader`` is a ``yaml.CSafeLoader`` (libyaml) that understands the handful of Ruby tags
Puppet emits and turns every one of them into plain data: ``!ruby/object:Any::Class`` mappings
become dicts, ``!ruby/sym``/``!ruby/symbol`` scalars become strings, ``!ruby/hash:``,
``!ruby/array:`` and ``!ruby/string:`` become dicts, lists and strings. Nothing is ever
instantiated from a tag. Any other unknown tag is an error. Documents are size-capped and a
document whose aliases would expand to more than ``max_nodes`` values (a "billion laughs") is
rejected before anything walks it.
"""

from __future__ import annotations

import datetime as dt

import yaml

from inventory.redaction import REDACTED, SENSITIVE_YAML_TAG  # ops


class YamlError(ValueError):
    pass


class RubyYamlLoader(yaml.CSafeLoader):
    pass


def _object(loader, suffix, node):
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_scalar(node)


def _mapping(loader, suffix, node):
    if not isinstance(node, yaml.MappingNode):
        raise yaml.constructor.ConstructorError(None, None, f"!ruby/hash:{suffix} must be a mapping", node.start_mark)
    return loader.construct_mapping(node, deep=True)


def _sequence(loader, suffix, node):
    if not isinstance(node, yaml.SequenceNode):
        raise yaml.constructor.ConstructorError(None, None, f"!ruby/array:{suffix} must be a sequence", node.start_mark)
    return loader.construct_sequence(node, deep=True)


def _scalar(loader, suffix, node):
    if not isinstance(node, yaml.ScalarNode):
        raise yaml.constructor.ConstructorError(None, None, "expected a scalar", node.start_mark)
    return str(loader.construct_scalar(node))


def _symbol(loader, node):
    return str(loader.construct_scalar(node))


for prefix in ("!ruby/object:", "!ruby/struct:"):
    RubyYamlLoader.add_multi_constructor(prefix, _object)
RubyYamlLoader.add_multi_constructor("!ruby/hash:", _mapping)
RubyYamlLoader.add_multi_constructor("!ruby/hash-with-ivars:", _mapping)
RubyYamlLoader.add_multi_constructor("!ruby/array:", _sequence)
RubyYamlLoader.add_multi_constructor("!ruby/string:", _scalar)
RubyYamlLoader.add_constructor("!ruby/sym", _symbol)
RubyYamlLoader.add_constructor("!ruby/symbol", _symbol)
RubyYamlLoader.add_constructor("!ruby/object", lambda loader, node: _object(loader, "", node))
# ops: a Sensitive value is never kept (inventory/redaction.py).
RubyYamlLoader.add_constructor(SENSITIVE_YAML_TAG, lambda loader, node: REDACTED)


def _expanded_size(root, limit: int) -> int:
    """Count the values the document would have once aliases are expanded (memoised by id, so
    linear in the number of distinct objects); stop as soon as ``limit`` is exceeded."""
    sizes: dict[int, int] = {}

    def size(obj) -> int:
        key = id(obj)
        if key in sizes:
            return sizes[key]
        if isinstance(obj, dict):
            total = 1 + sum(size(k) + size(v) for k, v in obj.items())
        elif isinstance(obj, list):
            total = 1 + sum(size(v) for v in obj)
        else:
            return 1
        if total > limit:
            raise YamlError(f"the document expands to more than {limit} values (too many aliases)")
        sizes[key] = total
        return total

    return size(root)


def load_yaml(data: bytes | str, *, max_bytes: int = 64 * 1024 * 1024, max_nodes: int = 5_000_000):
    if len(data) > max_bytes:
        raise YamlError(f"the YAML document is larger than {max_bytes} bytes")
    try:
        doc = yaml.load(data, Loader=RubyYamlLoader)  # noqa: S506 - a CSafeLoader subclass
    except yaml.YAMLError as exc:
        raise YamlError(f"malformed YAML: {exc}".replace("\n", " ")) from None
    except RecursionError:
        raise YamlError("the YAML document nests too deeply") from None
    try:
        _expanded_size(doc, max_nodes)
    except RecursionError:
        raise YamlError("the YAML document nests too deeply (or is recursive)") from None
    return doc


def iso(value) -> str | None:
    """A YAML/Ruby time (string or datetime) as an ISO 8601 string."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.isoformat()
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time(), tzinfo=dt.UTC).isoformat()
    text = str(value).strip()
    # Ruby's default Time#to_s form: "2014-01-01 12:00:00.123 +00:00" or "... -0700".
    if len(text) > 19 and text[10] == " ":
        text = text[:10] + "T" + text[11:]
        text = text.replace(" ", "")
    return text
