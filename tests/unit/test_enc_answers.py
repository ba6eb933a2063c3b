"""enc.answers: the per-node answer store of one classification version (no database)."""

from enc import answers
from enc.resolver import compile_snapshot

ROOT = "00000000-0000-4000-8000-000000000000"


def snapshot():
    return compile_snapshot(
        1,
        [
            {"id": ROOT, "name": "All nodes", "parent_id": None},
            {"id": "g1", "name": "debian", "parent_id": ROOT, "rule": ["=", ["fact", "os", "family"], "Debian"]},
            {"id": "g2", "name": "db", "parent_id": ROOT, "rule": ["=", ["trusted", "extensions", "pp_role"], "db"]},
        ],
    )


def test_stored_answers_are_bounded_oldest_first_and_zero_keeps_none():
    snap = snapshot()
    for name in ("a", "b", "c"):
        answers.remember_stored(snap, name, f"id-{name}", {"os": {}}, limit=2)
    assert list(snap.stored) == ["b", "c"]
    assert answers.stored(snap, "c").identity == "id-c" and answers.stored(snap, "a") is None
    assert answers.stored(None, "c") is None
    answers.remember_stored(snap, "d", "id-d", None, limit=0)
    assert answers.stored(snap, "d") is None


def test_posted_answers_need_the_same_digest():
    snap = snapshot()
    facts = {"os": {"family": "Debian"}, "uptime": 1}
    digest = answers.posted_digest(snap, facts, {"extensions": {}})
    answers.remember_posted(snap, "n1", digest, "result", limit=10)
    assert answers.posted(snap, "n1", digest) == "result"
    assert (
        answers.posted(snap, "n1", answers.posted_digest(snap, {**facts, "uptime": 2}, {"extensions": {}})) == "result"
    )
    assert answers.posted(snap, "n1", answers.posted_digest(snap, facts, {"extensions": {"pp_role": "db"}})) is None
    assert answers.posted(snap, "n2", digest) is None
    # A version whose rules read no trusted facts ignores them.
    plain = compile_snapshot(2, [{"id": ROOT, "name": "All nodes", "parent_id": None}])
    assert answers.posted_digest(plain, facts, {"a": 1}) == answers.posted_digest(plain, facts, {"b": 2})
