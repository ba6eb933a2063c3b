"""Set-based storage of nodes, facts and catalogs (called by the ingest worker).

Every function takes a Django DB cursor inside the caller's transaction and a normalised command
(``ingest.commands.normalise``); none of them commits. They return a short outcome string
("stored", "unchanged", "stale", ...) that the caller records.
"""


def forget_caches() -> None:
    """Forget every per-process id cache (tests that roll back, GC that deletes rows call it)."""
    from inventory.storage import facts, nodes

    nodes.discard_caches()
    facts.forget_paths()
