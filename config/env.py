"""Typed readers for configuration taken from environment variables.

Every reader names the variable in its error, and a bad value stops the process
(``ConfigError`` is a ``SystemExit``) with a one-line message instead of a traceback.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Iterable
from urllib.parse import urlsplit

TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off"}


class ConfigError(SystemExit):
    """A configuration variable is missing or malformed."""

    def __init__(self, variable: str, problem: str):
        self.variable = variable
        self.problem = problem
        super().__init__(f"stagehand: configuration error: {variable}: {problem}")


def _raw(name: str) -> str | None:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return None
    return value.strip()


def env_str(name: str, default: str | None = None, *, required: bool = False) -> str | None:
    value = _raw(name)
    if value is None:
        if required:
            raise ConfigError(name, "is required but not set")
        return default
    return value


def env_int(name: str, default: int, *, minimum: int | None = None, maximum: int | None = None) -> int:
    value = _raw(name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ConfigError(name, f"must be an integer, got {value!r}") from None
    if minimum is not None and number < minimum:
        raise ConfigError(name, f"must be at least {minimum}, got {number}")
    if maximum is not None and number > maximum:
        raise ConfigError(name, f"must be at most {maximum}, got {number}")
    return number


def env_float(name: str, default: float, *, minimum: float | None = None) -> float:
    value = _raw(name)
    if value is None:
        return default
    try:
        number = float(value)
    except ValueError:
        raise ConfigError(name, f"must be a number, got {value!r}") from None
    if minimum is not None and number < minimum:
        raise ConfigError(name, f"must be at least {minimum}, got {number}")
    return number


def env_bool(name: str, default: bool) -> bool:
    value = _raw(name)
    if value is None:
        return default
    word = value.lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ConfigError(name, f"must be one of {sorted(TRUE_WORDS | FALSE_WORDS)}, got {value!r}")


def env_list(name: str, default: Iterable[str]) -> list[str]:
    value = _raw(name)
    if value is None:
        return list(default)
    return [item.strip() for item in value.split(",") if item.strip()]


def env_choice(name: str, default: str, choices: Iterable[str]) -> str:
    allowed = list(choices)
    value = _raw(name)
    if value is None:
        return default
    normalised = value.upper() if all(c.isupper() for c in allowed) else value.lower()
    if normalised not in allowed:
        raise ConfigError(name, f"must be one of {allowed}, got {value!r}")
    return normalised


def env_database(name: str) -> dict | None:
    """Parse a PostgreSQL URL into a Django DATABASES entry, or None when unset."""
    import dj_database_url

    value = _raw(name)
    if value is None:
        return None
    scheme = urlsplit(value).scheme
    if scheme not in {"postgres", "postgresql", "pgsql"}:
        raise ConfigError(name, f"must be a postgresql:// URL, got scheme {scheme!r}")
    try:
        parsed = dj_database_url.parse(value)
    except Exception as exc:  # dj-database-url raises several types for bad URLs
        raise ConfigError(name, f"cannot be parsed ({exc})") from None
    if not parsed.get("NAME"):
        raise ConfigError(name, "names no database (expected postgresql://user@host:port/dbname)")
    try:
        if parsed.get("PORT"):
            int(parsed["PORT"])
    except ValueError:
        raise ConfigError(name, f"has a bad port {parsed['PORT']!r}") from None
    return parsed


def env_broker(name: str) -> str | None:
    value = _raw(name)
    if value is None:
        return None
    scheme = urlsplit(value).scheme
    if scheme not in {"redis", "rediss", "redis+socket"}:
        raise ConfigError(name, f"must be a redis://, rediss:// or redis+socket:// URL, got scheme {scheme!r}")
    return value


_DURATION_RE = re.compile(r"^\s*(\d+)\s*(ms|s|m|h|d|w)?\s*$")
_DURATION_UNITS = {
    "ms": dt.timedelta(milliseconds=1),
    "s": dt.timedelta(seconds=1),
    "m": dt.timedelta(minutes=1),
    "h": dt.timedelta(hours=1),
    "d": dt.timedelta(days=1),
    "w": dt.timedelta(weeks=1),
}


def parse_duration(text: str) -> dt.timedelta:
    """``"7d"``, ``"12h"``, ``"30m"``, ``"90s"``, ``"2w"``, ``"500ms"``; a bare number is days
    (PuppetDB's unit for its TTLs). ``"0"`` is a zero duration (callers read it as "disabled")."""
    match = _DURATION_RE.match(text or "")
    if not match:
        raise ValueError(f"not a duration: {text!r} (expected e.g. 7d, 12h, 30m, 90s, 2w)")
    return int(match.group(1)) * _DURATION_UNITS[match.group(2) or "d"]


def env_duration(name: str, default: str) -> dt.timedelta:
    value = _raw(name) or default
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise ConfigError(name, str(exc)) from None
