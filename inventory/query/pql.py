"""PQL (PuppetDB Query Language) → the v4 AST, with a lark LALR parser.

``parse(text)`` parses a whole query (``nodes[certname] { ... }``) into ``["from", ...]``;
``parse_condition(text, barewords=True)`` parses just a condition, as typed into the UI search box
(``facts.os.family = "Debian" and status = failed``), into an AST condition.
"""

from __future__ import annotations

import functools

import orjson
from lark import Lark, Token, Transformer, v_args
from lark.exceptions import LarkError, UnexpectedCharacters, UnexpectedEOF, UnexpectedInput

from inventory.query.errors import QueryError

ENTITY_NAMES = (
    "nodes facts fact_contents fact_paths factsets inventory resources catalogs edges reports events "
    "environments packages package_inventory producers catalog_input_contents catalog_inputs"
).split()

GRAMMAR = r"""
start: query | condition_only

condition_only: "?" expr?

query: entity projection? "{" body "}"
body: expr? modifier*
?modifier: groupby | limit | offset | orderby
groupby: "group" "by" proj ("," proj)*
limit: "limit" INT
offset: "offset" INT
orderby: "order" "by" order_item ("," order_item)*
order_item: field DIRECTION?
DIRECTION: "asc" | "desc"

projection: "[" [proj ("," proj)*] "]"
?proj: function | field
function: FUNC "(" [farg ("," farg)*] ")"
?farg: field | string
FUNC.3: /(count|avg|sum|min|max|to_string)(?=\s*\()/

?expr: or_expr
or_expr: and_expr ("or" and_expr)*
and_expr: not_expr ("and" not_expr)*
?not_expr: "!" not_expr -> not_
         | atom
?atom: "(" expr ")"
     | condition
     | subquery
subquery: entity "{" expr? "}"
?condition: field compop value -> compare
          | field "~>" path_array -> path_match
          | field "is" "null" -> is_null
          | field "is" "not" "null" -> is_not_null
          | fields "in" (query | array) -> in_
!compop: "=" | "!=" | "~" | "!~" | ">" | ">=" | "<" | "<="
fields: field | "[" field ("," field)* "]"
field: FIELD | ENTITY
entity: ENTITY

ENTITY.2: /(nodes|facts|fact_contents|fact_paths|factsets|inventory|resources|catalogs|edges|reports|events|environments|packages|package_inventory|producers|catalog_input_contents|catalog_inputs)(?![\w.?"])/
FIELD: /[A-Za-z_][A-Za-z0-9_]*\??(\.([A-Za-z0-9_\-]+|"(\\.|[^"\\])*")|\[\d+\])*/

?value: literal | array %BAREWORD%
array: "[" [literal ("," literal)*] "]"
path_array: "[" [path_elem ("," path_elem)*] "]"
?path_elem: string | int
?literal: string | number | true | false
?string: DQ_STRING -> dq_string
       | SQ_STRING -> sq_string
number: SIGNED_NUMBER
int: INT
true: "true"
false: "false"
DQ_STRING: /"(\\.|[^"\\])*"/
SQ_STRING: /'(\\.|[^'\\])*'/
%BAREWORD_TERMINAL%

%import common.INT
%import common.SIGNED_NUMBER
%import common.WS
%ignore WS
"""


def _grammar(barewords: bool) -> str:
    if barewords:
        return GRAMMAR.replace("%BAREWORD%", "| bareword").replace(
            "%BAREWORD_TERMINAL%", "bareword: BAREWORD\nBAREWORD.-1: /[A-Za-z0-9_][A-Za-z0-9_.:\\-\\/@+]*/"
        )
    return GRAMMAR.replace("%BAREWORD%", "").replace("%BAREWORD_TERMINAL%", "")


@v_args(inline=True)
class ToAst(Transformer):
    def start(self, x):
        return x

    def condition_only(self, expr=None):
        return expr

    def entity(self, tok):
        return str(tok)

    def field(self, tok):
        return str(tok)

    def fields(self, *items):
        return items[0] if len(items) == 1 else list(items)

    def dq_string(self, tok):
        try:
            return orjson.loads(str(tok))
        except orjson.JSONDecodeError as exc:
            raise QueryError(f"invalid string literal {tok}") from exc

    def sq_string(self, tok):
        return str(tok)[1:-1].replace("\\'", "'").replace("\\\\", "\\")

    def number(self, tok):
        text = str(tok)
        return float(text) if any(c in text for c in ".eE") else int(text)

    def int(self, tok):
        return int(tok)

    def true(self):
        return True

    def false(self):
        return False

    def bareword(self, tok):
        return str(tok)

    def array(self, *items):
        return [i for i in items if i is not None]

    def path_array(self, *items):
        return [i for i in items if i is not None]

    def compop(self, tok):
        return str(tok)

    def compare(self, field, op, value):
        if op == "!=":
            return ["not", ["=", field, value]]
        if op == "!~":
            return ["not", ["~", field, value]]
        return [op, field, value]

    def path_match(self, field, value):
        return ["~>", field, value]

    def is_null(self, field):
        return ["null?", field, True]

    def is_not_null(self, field):
        return ["null?", field, False]

    def in_(self, fields, target):
        if isinstance(target, list) and target and target[0] == "from":
            body = target[2] if len(target) > 2 else None
            if not (isinstance(body, list) and body and body[0] == "extract"):
                raise QueryError("the query after 'in' must name the fields to extract, e.g. facts[certname] { ... }")
            return ["in", fields, target]
        return ["in", fields, ["array", target]]

    def not_(self, expr):
        return ["not", expr]

    def or_expr(self, *items):
        return items[0] if len(items) == 1 else ["or", *items]

    def and_expr(self, *items):
        return items[0] if len(items) == 1 else ["and", *items]

    def subquery(self, entity, expr=None):
        return ["subquery", entity] + ([expr] if expr is not None else [])

    def function(self, name, *args):
        return ["function", str(name), *[a for a in args if a is not None]]

    def projection(self, *items):
        return [i for i in items if i is not None]

    def groupby(self, *items):
        return ("group_by", list(items))

    def limit(self, n):
        return ("limit", int(n))

    def offset(self, n):
        return ("offset", int(n))

    def order_item(self, field, direction=None):
        return [field, str(direction)] if direction is not None else field

    def orderby(self, *items):
        return ("order_by", list(items))

    def body(self, *items):
        expr = None
        mods = []
        for item in items:
            if isinstance(item, tuple):
                mods.append(item)
            elif item is not None:
                expr = item
        return expr, mods

    def query(self, entity, *rest):
        projection = None
        body = (None, [])
        for item in rest:
            if isinstance(item, tuple):
                body = item
            else:
                projection = item
        expr, mods = body
        group_by = [m[1] for m in mods if m[0] == "group_by"]
        paging = [[m[0], m[1]] for m in mods if m[0] != "group_by"]
        out = ["from", entity]
        if projection:
            extract = ["extract", projection]
            if expr is not None:
                extract.append(expr)
            if group_by:
                extract.append(["group_by", *group_by[0]])
            out.append(extract)
        elif group_by:
            raise QueryError("'group by' needs a projection, e.g. facts[name, count()] { group by name }")
        elif expr is not None:
            out.append(expr)
        out.extend(paging)
        return out


@functools.cache
def _parser(barewords: bool) -> Lark:
    return Lark(_grammar(barewords), parser="lalr", maybe_placeholders=False)


def _error(text: str, exc: LarkError) -> QueryError:
    if isinstance(exc, UnexpectedEOF):
        return QueryError("PQL parse error: the query ended unexpectedly")
    if isinstance(exc, UnexpectedCharacters):
        return QueryError(
            f"PQL parse error at line {exc.line}, column {exc.column}: unexpected character {text[exc.pos_in_stream]!r}"
        )
    if isinstance(exc, UnexpectedInput):
        token = getattr(exc, "token", None)
        shown = repr(str(token)) if isinstance(token, Token) and str(token) else "end of input"
        return QueryError(f"PQL parse error at line {exc.line}, column {exc.column}: unexpected {shown}")
    if isinstance(getattr(exc, "orig_exc", None), QueryError):
        return exc.orig_exc
    return QueryError("PQL parse error")


def parse(text: str):
    """Parse a full PQL query into a ``["from", ...]`` AST."""
    if not isinstance(text, str) or not text.strip():
        raise QueryError("empty PQL query")
    if len(text) > 100_000:
        raise QueryError("PQL query too long")
    try:
        tree = _parser(False).parse(text)
        return ToAst().transform(tree)
    except QueryError:
        raise
    except LarkError as exc:
        raise _error(text, exc) from None


def parse_condition(text: str, *, barewords: bool = True):
    """Parse a bare condition (``a = 1 and b ~ "x"``) into an AST condition (None if empty)."""
    if not isinstance(text, str) or not text.strip():
        return None
    if len(text) > 100_000:
        raise QueryError("query too long")
    try:
        tree = _parser(barewords).parse("? " + text)
        return ToAst().transform(tree)
    except QueryError:
        raise
    except LarkError as exc:
        raise _error("? " + text, exc) from None
