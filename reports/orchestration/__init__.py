"""Orchestration hooks: run-completion waits, the event stream, webhooks and code rollout.

Plain domain modules (``events``, ``runs``, ``stream``, ``webhooks``, ``rollout``, ``selection``)
hold the logic; ``api`` holds thin DRF views and ``tasks`` thin Celery tasks. See docs/hooks.md.
"""
