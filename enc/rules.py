"""Node group rules in the Puppet Enterprise classifier's JSON grammar.

Grammar (prefix notation, as PE stores and exports it, so rules can be pasted)::

    rule     := ["and", rule, rule...] | ["or", rule, rule...] | ["not", rule] | leaf
    leaf     := [op, field, value]
    op       := "=" | "!=" | "~" | "!~" | "<" | "<=" | ">" | ">=" | "<:" | "/:"
    field    := "name" | ["fact", seg, seg...] | ["trusted", seg, seg...]
    seg      := string | non-negative integer (an array index; "0" works too)

Semantics (the type edge cases, decided once here and tested):

* A path that does not exist, or whose value is JSON ``null``, is *missing*. A missing value never
  satisfies ``=``, ``~``, ``<``, ``<=``, ``>``, ``>=`` or ``<:``. The negated operators are exact
  negations (``!=`` is ``not =``, ``!~`` is ``not ~``, ``/:`` is ``not <:``), so they *do* match a
  missing value — a node without a ``role`` fact is not ``role = db``. This is also what the
  PuppetDB translation of the rule does.
* ``=`` compares scalars. A string rule value equals a string fact exactly (case-sensitive); it
  equals a number fact when it parses as the same number (``"8"`` = ``8`` = ``8.0``), and a
  boolean fact when it is ``"true"``/``"false"``. A number rule value equals a number fact or a
  numeric string fact. A boolean rule value equals a boolean fact or the string ``"true"``/
  ``"false"``. Arrays and hashes never equal anything (use ``<:`` for arrays).
* ``~`` is a regular-expression *search* (Python ``re``) on the fact's text; numbers and booleans
  are matched against their text (``8``, ``true``); arrays and hashes never match.
* ``<``, ``<=``, ``>``, ``>=`` are numeric only. The rule value must be a number or a numeric
  string (checked when the rule is saved); the fact must be a number or a string that parses as
  one (``"12"``, ``" 3.5 "``): other facts (text, booleans, arrays) never match.
* ``<:`` is true when the fact is an array with an element ``=`` the value; non-arrays never match.
* ``and``/``or`` need at least one operand, ``not`` exactly one.

``compile_rule`` turns a rule into a closure ``(certname, facts, trusted) -> bool``;
``validate`` lists every problem with its location; ``explain`` evaluates with a trace;
``to_puppetdb`` translates to a PuppetDB AST query for the ``inventory`` endpoint.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

OPERATORS = ("=", "!=", "~", "!~", "<", "<=", ">", ">=", "<:", "/:")
NUMERIC_OPERATORS = ("<", "<=", ">", ">=")
BOOLEANS = ("and", "or", "not")
SOURCES = ("fact", "trusted")
MAX_DEPTH = 32


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "<missing>"


MISSING: Any = _Missing()

Matcher = Callable[[str, dict, dict], bool]


class RuleError(ValueError):
    """A rule is malformed. ``errors`` lists every problem as ``{"path", "message"}``."""

    def __init__(self, errors: list[dict]):
        self.errors = errors
        super().__init__("; ".join(f"{e['path']}: {e['message']}" for e in errors))


# --- value helpers ---------------------------------------------------------------------------


def to_number(value: Any) -> int | float | None:
    """The number a fact or rule value stands for, or None (booleans are not numbers)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return value if not (isinstance(value, float) and not math.isfinite(value)) else None
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        try:
            return int(text)
        except ValueError:
            pass
        try:
            number = float(text)
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


def as_text(value: Any) -> str | None:
    """The text a scalar is matched against by ``~``; None for arrays, hashes and missing."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return None


def equals(fact: Any, value: Any) -> bool:
    if fact is MISSING or fact is None or isinstance(fact, dict | list):
        return False
    if isinstance(value, str):
        if isinstance(fact, str):
            return fact == value
        if isinstance(fact, bool):
            return value == ("true" if fact else "false")
        number = to_number(value)
        return number is not None and fact == number
    if isinstance(value, bool):
        if isinstance(fact, bool):
            return fact is value
        return isinstance(fact, str) and fact == ("true" if value else "false")
    # value is a number
    number = to_number(fact)
    return number is not None and number == value


def _fetch(root: Any, path: tuple) -> Any:
    current = root
    for segment in path:
        if isinstance(current, dict):
            current = current.get(segment if isinstance(segment, str) else str(segment), MISSING)
        elif isinstance(current, list):
            digits = isinstance(segment, str) and segment.isascii() and segment.isdigit()
            index = segment if isinstance(segment, int) else (int(segment) if digits else -1)
            if 0 <= index < len(current):
                current = current[index]
            else:
                return MISSING
        else:
            return MISSING
        if current is MISSING:
            return MISSING
    return MISSING if current is None else current


def field_value(field: Any, certname: str, facts: dict, trusted: dict) -> Any:
    if field == "name":
        return certname
    return _fetch(facts if field[0] == "fact" else trusted, tuple(field[1:]))


# --- validation ------------------------------------------------------------------------------


def _where(path: tuple) -> str:
    return "rule" + "".join(f"[{i}]" for i in path)


def _validate_field(field: Any, path: tuple, errors: list) -> None:
    if field == "name":
        return
    if not isinstance(field, list) or len(field) < 2 or field[0] not in SOURCES:
        errors.append(
            {
                "path": _where(path),
                "message": f'field must be "name", ["fact", path...] or ["trusted", path...], got {field!r}',
            }
        )
        return
    for i, segment in enumerate(field[1:], start=1):
        ok = (isinstance(segment, str) and segment != "") or (
            isinstance(segment, int) and not isinstance(segment, bool) and segment >= 0
        )
        if not ok:
            errors.append(
                {
                    "path": _where((*path, i)),
                    "message": f"path segment must be a non-empty string or an array index, got {segment!r}",
                }
            )


def _validate(rule: Any, path: tuple, errors: list, depth: int) -> None:
    if depth > MAX_DEPTH:
        errors.append({"path": _where(path), "message": f"rule nested deeper than {MAX_DEPTH} levels"})
        return
    if not isinstance(rule, list) or not rule:
        errors.append({"path": _where(path), "message": f"expected a non-empty array, got {rule!r}"})
        return
    op = rule[0]
    if op in ("and", "or"):
        if len(rule) < 2:
            errors.append({"path": _where(path), "message": f'"{op}" needs at least one operand'})
        for i, sub in enumerate(rule[1:], start=1):
            _validate(sub, (*path, i), errors, depth + 1)
        return
    if op == "not":
        if len(rule) != 2:
            errors.append({"path": _where(path), "message": '"not" takes exactly one operand'})
        else:
            _validate(rule[1], (*path, 1), errors, depth + 1)
        return
    if op not in OPERATORS:
        errors.append(
            {
                "path": _where((*path, 0)),
                "message": f"unknown operator {op!r}; expected one of {list(BOOLEANS) + list(OPERATORS)}",
            }
        )
        return
    if len(rule) != 3:
        errors.append({"path": _where(path), "message": f'"{op}" takes a field and a value: [op, field, value]'})
        return
    _validate_field(rule[1], (*path, 1), errors)
    value = rule[2]
    where = _where((*path, 2))
    if isinstance(value, dict | list) or value is None:
        errors.append({"path": where, "message": f"value must be a string, number or boolean, got {value!r}"})
    elif op in NUMERIC_OPERATORS:
        if to_number(value) is None:
            errors.append({"path": where, "message": f'"{op}" compares numbers; {value!r} is not a number'})
    elif op in ("~", "!~"):
        if not isinstance(value, str):
            errors.append({"path": where, "message": f'"{op}" needs a regular expression string, got {value!r}'})
        else:
            try:
                re.compile(value)
            except re.error as exc:
                errors.append({"path": where, "message": f"invalid regular expression {value!r}: {exc}"})
    elif isinstance(value, float) and not math.isfinite(value):
        errors.append({"path": where, "message": f"value must be finite, got {value!r}"})


def validate(rule: Any) -> list[dict]:
    """Every problem in ``rule`` as ``{"path": "rule[1][2]", "message": ...}``; [] when valid."""
    errors: list[dict] = []
    _validate(rule, (), errors, 0)
    return errors


# --- compilation -----------------------------------------------------------------------------


def _compile_getter(field: Any) -> Callable[[str, dict, dict], Any]:
    if field == "name":
        return lambda certname, facts, trusted: certname
    source = field[0]
    path = tuple(field[1:])
    if len(path) == 1 and isinstance(path[0], str):
        key = path[0]
        if source == "fact":

            def get1(certname, facts, trusted):
                value = facts.get(key, MISSING)
                return MISSING if value is None else value

            return get1

        def get1t(certname, facts, trusted):
            value = trusted.get(key, MISSING)
            return MISSING if value is None else value

        return get1t
    if source == "fact":
        return lambda certname, facts, trusted: _fetch(facts, path)
    return lambda certname, facts, trusted: _fetch(trusted, path)


def _compile_leaf(op: str, field: Any, value: Any) -> Matcher:
    get = _compile_getter(field)
    if op in ("=", "!="):
        if isinstance(value, str) and to_number(value) is None and value not in ("true", "false"):
            # The common case: a plain string only equals the same string.
            def test(fact, value=value):
                return fact == value if isinstance(fact, str) else False
        else:

            def test(fact, value=value):
                return equals(fact, value)
    elif op in ("~", "!~"):
        search = re.compile(value).search

        def test(fact):
            text = as_text(fact)
            return text is not None and search(text) is not None
    elif op in ("<:", "/:"):

        def test(fact, value=value):
            return isinstance(fact, list) and any(equals(item, value) for item in fact)
    else:
        bound = to_number(value)
        compare = {
            "<": lambda n: n < bound,
            "<=": lambda n: n <= bound,
            ">": lambda n: n > bound,
            ">=": lambda n: n >= bound,
        }[op]

        def test(fact):
            number = to_number(fact) if fact is not MISSING else None
            return number is not None and compare(number)

    if op in ("!=", "!~", "/:"):
        return lambda certname, facts, trusted: not test(get(certname, facts, trusted))
    return lambda certname, facts, trusted: test(get(certname, facts, trusted))


def _compile(rule: list) -> Matcher:
    op = rule[0]
    if op == "and":
        parts = tuple(_compile(sub) for sub in rule[1:])
        if len(parts) == 1:
            return parts[0]
        return lambda certname, facts, trusted: all(p(certname, facts, trusted) for p in parts)
    if op == "or":
        parts = tuple(_compile(sub) for sub in rule[1:])
        if len(parts) == 1:
            return parts[0]
        return lambda certname, facts, trusted: any(p(certname, facts, trusted) for p in parts)
    if op == "not":
        inner = _compile(rule[1])
        return lambda certname, facts, trusted: not inner(certname, facts, trusted)
    return _compile_leaf(op, rule[1], rule[2])


def compile_rule(rule: Any) -> Matcher:
    """A closure ``(certname, facts, trusted) -> bool``; raises RuleError when the rule is bad."""
    errors = validate(rule)
    if errors:
        raise RuleError(errors)
    return _compile(rule)


def evaluate(rule: Any, certname: str, facts: dict | None = None, trusted: dict | None = None) -> bool:
    return compile_rule(rule)(certname, facts or {}, trusted or {})


def leaf_matches(op: str, fact: Any, value: Any) -> bool:
    """One operator applied to one (already fetched) fact value."""
    return _compile_leaf(op, ["fact", "x"], value)("", {"x": fact} if fact is not MISSING else {}, {})


# --- explanation -----------------------------------------------------------------------------


def explain(rule: Any, certname: str, facts: dict, trusted: dict) -> dict:
    """Evaluate ``rule`` and say why: a tree of ``{"rule", "matched", ...}``; leaves carry the
    fact value they saw (``"value"``, or ``"missing": true``)."""
    op = rule[0]
    if op in BOOLEANS:
        children = [explain(sub, certname, facts, trusted) for sub in rule[1:]]
        if op == "and":
            matched = all(c["matched"] for c in children)
        elif op == "or":
            matched = any(c["matched"] for c in children)
        else:
            matched = not children[0]["matched"]
        return {"op": op, "matched": matched, "children": children}
    value = field_value(rule[1], certname, facts, trusted)
    node = {"rule": rule, "matched": _compile_leaf(op, rule[1], rule[2])(certname, facts, trusted)}
    if value is MISSING:
        node["missing"] = True
    else:
        node["value"] = value
    return node


def deciding_clauses(trace: dict) -> list:
    """The leaf clauses that decided a trace's outcome (for a one-line "because")."""
    if "rule" in trace:
        return [trace["rule"]]
    op, matched, children = trace["op"], trace["matched"], trace["children"]
    if op == "not":
        return deciding_clauses(children[0])
    # "and" fails on its first failing operand; "or" succeeds on its first matching one;
    # otherwise every operand contributed.
    decisive = (op == "and" and not matched) or (op == "or" and matched)
    wanted = matched if op == "or" else False
    if decisive:
        for child in children:
            if child["matched"] == wanted:
                return deciding_clauses(child)
    out: list = []
    for child in children:
        out.extend(deciding_clauses(child))
    return out


# --- introspection ---------------------------------------------------------------------------


def fields(rule: Any) -> list:
    """Every field a (valid) rule reads."""
    if rule is None:
        return []
    if rule[0] in BOOLEANS:
        out = []
        for sub in rule[1:]:
            out.extend(fields(sub))
        return out
    return [rule[1]]


# --- translation to PuppetDB -----------------------------------------------------------------


class UntranslatableRule(ValueError):
    pass


_PLAIN_SEGMENT = re.compile(r"^[A-Za-z0-9_\-]+$")


def _dotted(field: list) -> str:
    source = "facts" if field[0] == "fact" else "trusted"
    parts = [source]
    for segment in field[1:]:
        if isinstance(segment, int) or (isinstance(segment, str) and segment.isdigit() and len(parts) > 1):
            parts[-1] += f"[{int(segment)}]"
        elif _PLAIN_SEGMENT.match(segment):
            parts.append(segment)
        else:
            parts.append('"' + segment.replace("\\", "\\\\").replace('"', '\\"') + '"')
    return ".".join(parts)


def _translate(rule: list) -> list:
    op = rule[0]
    if op in ("and", "or"):
        return [op, *(_translate(sub) for sub in rule[1:])]
    if op == "not":
        return ["not", _translate(rule[1])]
    field, value = rule[1], rule[2]
    if op in ("!=", "!~", "/:"):
        positive = {"!=": "=", "!~": "~", "/:": "<:"}[op]
        return ["not", _translate([positive, field, value])]
    if op == "<:":
        if field == "name":
            raise UntranslatableRule('"<:" needs an array fact; "name" is a string')
        name = field[1] if field[0] == "fact" else "trusted"
        segments = list(field[2:]) if field[0] == "fact" else list(field[1:])
        path = ["^" + re.escape(str(s)) + "$" for s in segments] + ["^\\d+$"]
        return [
            "in",
            "certname",
            [
                "extract",
                "certname",
                [
                    "select_fact_contents",
                    ["and", ["=", "name", name], ["~>", "path", ["^" + re.escape(str(name)) + "$", *path]]]
                    + [["=", "value", value]],
                ],
            ],
        ]
    target = "certname" if field == "name" else _dotted(field)
    if op in NUMERIC_OPERATORS:
        return [op, target, to_number(value)]
    if op == "~":
        return ["~", target, value]
    # "=": mirror the evaluator's coercions where PuppetDB compares typed values.
    if isinstance(value, str) and field != "name":
        number = to_number(value)
        if number is not None:
            return ["or", ["=", target, value], ["=", target, number]]
        if value in ("true", "false"):
            return ["or", ["=", target, value], ["=", target, value == "true"]]
    if isinstance(value, bool) and field != "name":
        return ["or", ["=", target, value], ["=", target, "true" if value else "false"]]
    if isinstance(value, int | float) and not isinstance(value, bool) and field != "name":
        return ["or", ["=", target, value], ["=", target, str(value)]]
    return ["=", target, value if field != "name" else str(value)]


def to_puppetdb(rule: Any) -> list:
    """A PuppetDB AST query for ``/pdb/query/v4/inventory`` selecting the nodes the rule matches.

    Fact fields become dotted ``facts.a.b`` / ``trusted.a.b`` fields, ``name`` becomes
    ``certname``. Limits (PuppetDB compares typed values): numeric comparisons only match facts
    stored as numbers, not numeric strings. Raises RuleError / UntranslatableRule."""
    errors = validate(rule)
    if errors:
        raise RuleError(errors)
    return _translate(rule)
