"""The PE classifier rule grammar: validation, every operator and its type edge cases,
explanations and the translation to PuppetDB AST."""

import pytest

from enc import rules
from enc.rules import RuleError, compile_rule, evaluate, validate

FACTS = {
    "os": {"family": "Debian", "release": {"major": "12", "full": "12.11"}},
    "processorcount": 4,
    "memorysize_mb": "2048.5",
    "load": 0.75,
    "is_virtual": True,
    "is_virtual_str": "false",
    "roles": ["web", "db", 8],
    "version_text": "abc",
    "empty": "",
    "nothing": None,
    "disks": {"sda": {"size_bytes": 1000}},
    "interfaces": [{"name": "lo"}, {"name": "eth0"}],
    "with.dot": "dotted",
}
TRUSTED = {"certname": "web01.example.com", "extensions": {"pp_role": "web", "1.3.6.1.4.1.34380.1.1.13": "x"}}


def ev(rule, facts=FACTS, trusted=TRUSTED, name="web01.example.com"):
    return evaluate(rule, name, facts, trusted)


@pytest.mark.parametrize(
    "rule, expected",
    [
        # = on strings, numbers, booleans, nested paths
        (["=", ["fact", "os", "family"], "Debian"], True),
        (["=", ["fact", "os", "family"], "debian"], False),  # case-sensitive
        (["=", ["fact", "os", "release", "major"], "12"], True),
        (["=", ["fact", "os", "release", "major"], 12], True),  # number vs numeric string fact
        (["=", ["fact", "processorcount"], "4"], True),  # numeric string vs number fact
        (["=", ["fact", "processorcount"], "4.0"], True),
        (["=", ["fact", "processorcount"], 4], True),
        (["=", ["fact", "processorcount"], "four"], False),
        (["=", ["fact", "is_virtual"], "true"], True),
        (["=", ["fact", "is_virtual"], True], True),
        (["=", ["fact", "is_virtual"], "True"], False),
        (["=", ["fact", "is_virtual_str"], False], True),
        (["=", ["fact", "is_virtual"], 1], False),  # booleans are not numbers
        (["=", ["fact", "roles"], "web"], False),  # arrays never equal a scalar
        (["=", ["fact", "disks"], "x"], False),
        (["=", ["fact", "missing"], "x"], False),
        (["=", ["fact", "nothing"], "x"], False),
        (["=", ["fact", "empty"], ""], True),
        (["=", "name", "web01.example.com"], True),
        (["=", ["trusted", "extensions", "pp_role"], "web"], True),
        (["=", ["trusted", "extensions", "1.3.6.1.4.1.34380.1.1.13"], "x"], True),
        (["=", ["fact", "with.dot"], "dotted"], True),
        # array index segments, as integers or digit strings
        (["=", ["fact", "interfaces", 1, "name"], "eth0"], True),
        (["=", ["fact", "interfaces", "0", "name"], "lo"], True),
        (["=", ["fact", "interfaces", 5, "name"], "lo"], False),
        (["=", ["fact", "os", "family", "deeper"], "x"], False),  # path through a string
        # != is exactly "not =": a missing fact is != anything
        (["!=", ["fact", "os", "family"], "RedHat"], True),
        (["!=", ["fact", "os", "family"], "Debian"], False),
        (["!=", ["fact", "missing"], "x"], True),
        (["!=", ["fact", "processorcount"], "4"], False),
        # regex search on text; numbers/booleans by their text; arrays and missing never
        (["~", "name", "^web\\d+\\."], True),
        (["~", ["fact", "os", "family"], "^Deb"], True),
        (["~", ["fact", "os", "family"], "ian$"], True),
        (["~", ["fact", "os", "family"], "^ian"], False),
        (["~", ["fact", "processorcount"], "^4$"], True),
        (["~", ["fact", "is_virtual"], "^tru"], True),
        (["~", ["fact", "roles"], "web"], False),
        (["~", ["fact", "missing"], ".*"], False),
        (["!~", ["fact", "missing"], ".*"], True),
        (["!~", ["fact", "os", "family"], "^Red"], True),
        (["!~", ["fact", "os", "family"], "^Deb"], False),
        # numeric comparisons: numbers and numeric strings only
        ([">", ["fact", "processorcount"], 2], True),
        ([">", ["fact", "processorcount"], "2"], True),
        ([">=", ["fact", "processorcount"], 4], True),
        (["<", ["fact", "processorcount"], 4], False),
        (["<=", ["fact", "processorcount"], "4"], True),
        ([">", ["fact", "os", "release", "major"], 9], True),  # string fact "12" > 9 numerically
        (["<", ["fact", "os", "release", "major"], "9"], False),  # not a string comparison
        ([">", ["fact", "os", "release", "full"], 12.1], True),
        ([">", ["fact", "memorysize_mb"], 2048], True),
        (["<", ["fact", "load"], 1], True),
        ([">", ["fact", "version_text"], 1], False),  # text never compares
        (["<", ["fact", "version_text"], 1], False),
        ([">", ["fact", "empty"], -1], False),
        ([">", ["fact", "is_virtual"], 0], False),  # booleans never compare
        ([">", ["fact", "roles"], 0], False),  # arrays never compare
        ([">", ["fact", "missing"], 0], False),
        (["<", ["fact", "missing"], 0], False),
        ([">", ["fact", "disks", "sda", "size_bytes"], 999], True),
        # array contains / does not contain
        (["<:", ["fact", "roles"], "db"], True),
        (["<:", ["fact", "roles"], "mail"], False),
        (["<:", ["fact", "roles"], "8"], True),  # element compared with =
        (["<:", ["fact", "os", "family"], "Debian"], False),  # not an array
        (["<:", ["fact", "missing"], "x"], False),
        (["/:", ["fact", "roles"], "mail"], True),
        (["/:", ["fact", "roles"], "db"], False),
        (["/:", ["fact", "missing"], "x"], True),
        # boolean operators
        (["and", ["=", ["fact", "os", "family"], "Debian"], [">", ["fact", "processorcount"], 2]], True),
        (["and", ["=", ["fact", "os", "family"], "Debian"], [">", ["fact", "processorcount"], 8]], False),
        (["or", ["=", ["fact", "os", "family"], "RedHat"], ["~", "name", "^web"]], True),
        (["or", ["=", ["fact", "os", "family"], "RedHat"], ["~", "name", "^db"]], False),
        (["not", ["=", ["fact", "os", "family"], "RedHat"]], True),
        (["not", ["not", ["=", ["fact", "os", "family"], "RedHat"]]], False),
        (["and", ["=", "name", "web01.example.com"]], True),
        (["or", ["and", ["=", ["trusted", "extensions", "pp_role"], "web"]], ["=", "name", "pe.example"]], True),
    ],
)
def test_operators(rule, expected):
    assert validate(rule) == []
    assert ev(rule) is expected


def test_empty_facts_and_trusted():
    assert ev(["=", ["fact", "os", "family"], "Debian"], facts={}) is False
    assert ev(["!=", ["trusted", "extensions", "pp_role"], "web"], trusted={}) is True


@pytest.mark.parametrize(
    "rule, fragment",
    [
        ("not a list", "expected a non-empty array"),
        ([], "expected a non-empty array"),
        (["xor", ["=", "name", "a"]], "unknown operator 'xor'"),
        (["and"], '"and" needs at least one operand'),
        (["not", ["=", "name", "a"], ["=", "name", "b"]], '"not" takes exactly one operand'),
        (["=", "name"], "takes a field and a value"),
        (["=", "certname", "a"], 'field must be "name"'),
        (["=", ["facts", "os"], "a"], 'field must be "name"'),
        (["=", ["fact"], "a"], 'field must be "name"'),
        (["=", ["fact", ""], "a"], "path segment"),
        (["=", ["fact", "a", -1], "a"], "path segment"),
        (["=", ["fact", "a", True], "a"], "path segment"),
        (["=", ["fact", "a"], None], "must be a string, number or boolean"),
        (["=", ["fact", "a"], ["x"]], "must be a string, number or boolean"),
        ([">", ["fact", "a"], "abc"], "compares numbers"),
        ([">", ["fact", "a"], True], "compares numbers"),
        (["~", ["fact", "a"], "(unclosed"], "invalid regular expression"),
        (["~", ["fact", "a"], 5], "regular expression string"),
    ],
)
def test_invalid_rules_are_named(rule, fragment):
    errors = validate(rule)
    assert errors, rule
    assert any(fragment in e["message"] for e in errors), errors
    with pytest.raises(RuleError):
        compile_rule(rule)


def test_errors_carry_their_location():
    errors = validate(["and", ["=", "name", "a"], ["or", [">", ["fact", "x"], "y"]]])
    assert errors == [{"path": "rule[2][1][2]", "message": "\">\" compares numbers; 'y' is not a number"}]


def test_explain_names_the_deciding_clause():
    rule = ["and", ["=", ["fact", "os", "family"], "Debian"], [">", ["fact", "processorcount"], 8]]
    trace = rules.explain(rule, "web01", FACTS, TRUSTED)
    assert trace["matched"] is False
    assert trace["children"][0] == {"rule": rule[1], "matched": True, "value": "Debian"}
    assert trace["children"][1] == {"rule": rule[2], "matched": False, "value": 4}
    assert rules.deciding_clauses(trace) == [rule[2]]
    missing = rules.explain(["=", ["fact", "nope"], "x"], "web01", FACTS, TRUSTED)
    assert missing == {"rule": ["=", ["fact", "nope"], "x"], "matched": False, "missing": True}
    either = ["or", ["=", "name", "db1"], ["~", "name", "^web"]]
    assert rules.deciding_clauses(rules.explain(either, "web01", {}, {})) == [either[2]]


def test_translate_to_puppetdb_ast():
    assert rules.to_puppetdb(["=", ["fact", "os", "family"], "Debian"]) == ["=", "facts.os.family", "Debian"]
    assert rules.to_puppetdb(["~", "name", "^web"]) == ["~", "certname", "^web"]
    assert rules.to_puppetdb(["=", ["trusted", "extensions", "pp_role"], "web"]) == [
        "=",
        "trusted.extensions.pp_role",
        "web",
    ]
    assert rules.to_puppetdb(["!=", ["fact", "kernel"], "Linux"]) == ["not", ["=", "facts.kernel", "Linux"]]
    assert rules.to_puppetdb([">=", ["fact", "processorcount"], "4"]) == [">=", "facts.processorcount", 4]
    assert rules.to_puppetdb(["=", ["fact", "os", "release", "major"], "12"]) == [
        "or",
        ["=", "facts.os.release.major", "12"],
        ["=", "facts.os.release.major", 12],
    ]
    assert rules.to_puppetdb(["=", ["fact", "interfaces", 1, "name"], "x"]) == ["=", "facts.interfaces[1].name", "x"]
    assert rules.to_puppetdb(["=", ["trusted", "extensions", "1.3.6.1"], "x"]) == [
        "=",
        'trusted.extensions."1.3.6.1"',
        "x",
    ]
    contains = rules.to_puppetdb(["<:", ["fact", "roles"], "db"])
    assert contains[0:2] == ["in", "certname"]
    inner = contains[2][2]
    assert inner[0] == "select_fact_contents"
    assert ["=", "name", "roles"] in inner[1] and ["=", "value", "db"] in inner[1]
    assert rules.to_puppetdb(["and", ["not", ["=", "name", "a"]], ["/:", ["fact", "roles"], "x"]])[0] == "and"
    with pytest.raises(rules.UntranslatableRule):
        rules.to_puppetdb(["<:", "name", "x"])
    with pytest.raises(RuleError):
        rules.to_puppetdb(["?", "name", "x"])


def test_fields():
    rule = ["and", ["=", "name", "a"], ["or", ["=", ["fact", "a", "b"], "x"], ["=", ["trusted", "c"], "y"]]]
    assert rules.fields(rule) == ["name", ["fact", "a", "b"], ["trusted", "c"]]


@pytest.mark.parametrize("segment", ["²", "١", "1x"])
def test_array_index_segments_that_are_not_ascii_digits_find_nothing(segment):
    # int("²") raises and int("١") is 1: only plain ASCII digits index an array, as in PostgreSQL's #>
    assert ev(["=", ["fact", "interfaces", segment, "name"], "eth0"]) is False
    assert ev(["not", ["=", ["fact", "interfaces", segment, "name"], "eth0"]]) is True
    assert ev(["=", ["fact", "interfaces", "1", "name"], "eth0"]) is True
