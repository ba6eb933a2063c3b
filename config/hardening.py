"""Configuration parsing and log redaction for the access policy (no Django imports, so the
settings modules and the logging configuration can use them)."""

from __future__ import annotations

import ipaddress
import logging
import re

ALL_SCOPES = ("read", "write", "classify", "admin")


def parse_networks(values) -> list:
    networks = []
    for value in values or []:
        networks.append(ipaddress.ip_network(value.strip(), strict=False))
    return networks


def parse_certname_scopes(text: str) -> list[tuple[str, set]]:
    """``"puppet*.example.com=read,write,classify; *.example.com=classify"`` → [(pattern, scopes)]."""
    rules = []
    for chunk in re.split(r"[;\n]", text or ""):
        chunk = chunk.strip()
        if not chunk:
            continue
        pattern, sep, scopes = chunk.partition("=")
        names = {s.strip() for s in scopes.split(",") if s.strip()}
        if not sep or not pattern.strip() or not names or names - set(ALL_SCOPES):
            raise ValueError(
                f"bad CERTNAME_SCOPES entry {chunk!r}: expected <certname pattern>=<scope>[,<scope>...] "
                f"with scopes from {list(ALL_SCOPES)}"
            )
        rules.append((pattern.strip().lower(), names))
    return rules


_SECRET_PATTERNS = [
    (re.compile(r"sth_[A-Za-z0-9_\-]{8,}"), "sth_[redacted]"),
    (
        re.compile(r"(?i)\b(authorization|x-authentication)(\s*[:=]\s*)(bearer\s+|token\s+)?[^\s,;'\"]+"),
        r"\1\2\3[redacted]",
    ),
    (re.compile(r"(?i)\b((?:postgres(?:ql)?|redis|rediss|amqp)://[^:/@\s]*:)[^@\s]+@"), r"\1[redacted]@"),
    (re.compile(r"(?i)\b(password|secret_key|secret)(\s*[:=]\s*)[^\s,;'\"]+"), r"\1\2[redacted]"),
]


# Every match of a pattern above contains one of these: a string without them is returned as it
# is after one search instead of four substitutions (the filter runs on every request log line).
_SECRET_HINT = re.compile(r"(?i)sth_|authorization|x-authentication|://|password|secret")


def redact_secrets(text: str) -> str:
    if not _SECRET_HINT.search(text):
        return text
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactSecretsFilter(logging.Filter):
    """Remove API tokens, Authorization values and passwords in URLs from log records."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact_secrets(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        for key, value in list(record.__dict__.items()):
            if isinstance(value, str) and key not in ("msg", "name", "levelname", "pathname", "filename", "module"):
                cleaned = redact_secrets(value)
                if cleaned != value:
                    setattr(record, key, cleaned)
        return True
