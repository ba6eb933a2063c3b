"""Per-node classification answers kept with one compiled classification version.

A classification is a pure function of (the version's groups, the certname, the facts and
trusted facts the rules read), so an answer can be reused exactly as long as those are the same:

* ``stored``: for a GET, keyed by the identity of the node's stored fact document (the factset
  row's ``xmin`` and content hash, read by the request's single lookup statement). A hit skips
  reading the 15 KB document, rule evaluation and rendering.
* ``posted``: for a POST, keyed by a digest of only the top-level facts and the trusted facts the
  rules read (``Snapshot.fact_keys``, ``Snapshot.uses_trusted``): a run whose relevant facts did
  not change skips rule evaluation and rendering, whatever else changed (uptime, memory, ...).

Both live on the ``Snapshot`` they were computed with, so a new version starts empty and an answer
never mixes versions; the version itself is still read from PostgreSQL on every request. Each
mapping holds at most ``limit`` nodes (oldest first out; 0 keeps none).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import orjson

from enc.resolver import Result, Snapshot

DEFAULT_LIMIT = 100_000


@dataclass(slots=True)
class Stored:
    identity: str | None  # of the stored fact document (None: the node has no stored facts)
    facts: dict | None  # the stored facts, only the keys the version's rules read
    result: Result | None = None  # the classification with these facts, once computed


def _remember(mapping: dict, certname: str, value: Any, limit: int) -> None:
    if limit <= 0:
        return  # keeping no answers (ENC_ANSWER_CACHE_NODES=0): every request is classified anew
    while len(mapping) >= limit:
        try:
            mapping.pop(next(iter(mapping)), None)
        except (RuntimeError, StopIteration):  # another thread changed it meanwhile
            break
    mapping[certname] = value


def stored(snapshot: Snapshot | None, certname: str) -> Stored | None:
    return snapshot.stored.get(certname) if snapshot is not None else None


def remember_stored(
    snapshot: Snapshot, certname: str, identity: str | None, facts: dict | None, limit: int = DEFAULT_LIMIT
) -> Stored:
    entry = Stored(identity, facts)
    _remember(snapshot.stored, certname, entry, limit)
    return entry


def posted_digest(snapshot: Snapshot, facts: dict, trusted: dict) -> bytes:
    """A digest of what the version's rules can read from posted facts: the top-level facts they
    name (absent ones left out, so absent and ``null`` differ) and the trusted facts."""
    relevant = {key: facts[key] for key in snapshot.fact_keys if key in facts}
    payload = orjson.dumps([relevant, trusted if snapshot.uses_trusted else None])
    return hashlib.blake2b(payload, digest_size=16).digest()


def posted(snapshot: Snapshot, certname: str, digest: bytes) -> Result | None:
    entry = snapshot.posted.get(certname)
    return entry[1] if entry is not None and entry[0] == digest else None


def remember_posted(
    snapshot: Snapshot, certname: str, digest: bytes, result: Result, limit: int = DEFAULT_LIMIT
) -> None:
    _remember(snapshot.posted, certname, (digest, result), limit)
