"""API tokens with scopes.

A token is shown once when created; only its sha256 is stored. Scopes: ``read`` (queries, API
reads), ``write`` (commands and report uploads), ``classify`` (the ENC), ``admin`` (everything,
including PuppetDB admin commands and token management).
"""

from __future__ import annotations

import functools
import hashlib
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import connection, models
from django.utils import timezone

from config.db import retry_if_disconnected


class Scope(models.TextChoices):
    READ = "read"
    WRITE = "write"
    CLASSIFY = "classify"
    ADMIN = "admin"


TOKEN_PREFIX = "sth_"


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


class ApiToken(models.Model):
    name = models.TextField(help_text="What the token is for, e.g. 'puppetboard' or 'jenkins deploy'.")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, models.CASCADE, related_name="api_tokens")
    key_hash = models.CharField(max_length=64, unique=True)
    key_prefix = models.CharField(max_length=16, help_text="The first characters, to recognise a token.")
    scopes = ArrayField(models.TextField(choices=Scope.choices))
    created = models.DateTimeField(auto_now_add=True)
    expires = models.DateTimeField(null=True, blank=True)
    revoked = models.DateTimeField(null=True, blank=True)
    last_used = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"{self.name} ({self.key_prefix}…)"

    @classmethod
    def issue(cls, *, user, name: str, scopes: list[str], expires=None) -> tuple[ApiToken, str]:
        """Create a token; returns it and the raw secret, which is not stored and shown only once."""
        unknown = set(scopes) - set(Scope.values)
        if unknown or not scopes:
            raise ValueError(f"unknown or no scopes: {sorted(unknown) or scopes}; known: {Scope.values}")
        raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
        token = cls.objects.create(
            user=user,
            name=name,
            key_hash=hash_token(raw),
            key_prefix=raw[:12],
            scopes=sorted(set(scopes)),
            expires=expires,
        )
        return token, raw

    @classmethod
    def authenticate(cls, raw: str) -> ApiToken | None:
        """The usable token (``USABLE_TOKEN_SQL``) with this secret, and its user, in one statement
        (on every tokened request: no ORM query compilation)."""
        query = _token_query()
        # A connection the server dropped fails once here (the lean ENC path runs without
        # per-request health checks) and is replaced.
        row = retry_if_disconnected(lambda: _fetch_one(query.sql, [hash_token(raw)]))
        if row is None:
            return None
        *values, touch_due = row
        token = cls.from_db(connection.alias, query.token_attnames, values[: len(query.token_attnames)])
        token.user = query.user_model.from_db(
            connection.alias, query.user_attnames, values[len(query.token_attnames) :]
        )
        if touch_due:
            now = timezone.now()
            cls.objects.filter(pk=token.pk).update(last_used=now)  # at most one write a minute
            token.last_used = now
        return token

    def allows(self, scope: str) -> bool:
        return Scope.ADMIN in self.scopes or scope in self.scopes

    def revoke(self) -> None:
        self.revoked = timezone.now()
        self.save(update_fields=["revoked"])


# A token ``t`` of user ``u`` that may be used now; shared with the ENC's lookup (enc.store).
USABLE_TOKEN_SQL = "t.revoked IS NULL AND (t.expires IS NULL OR t.expires > now()) AND u.is_active"
# A token's last use is recorded at most once in this many seconds.
TOKEN_TOUCH_SECONDS = 60
TOKEN_TOUCH_DUE_SQL = f"(t.last_used IS NULL OR t.last_used < now() - interval '{TOKEN_TOUCH_SECONDS} seconds')"


@dataclass(frozen=True)
class _TokenQuery:
    sql: str
    token_attnames: list
    user_attnames: list
    user_model: type


@functools.cache
def _token_query() -> _TokenQuery:
    user_field = ApiToken._meta.get_field("user")
    user_model = user_field.related_model
    token_fields, user_fields = ApiToken._meta.concrete_fields, user_model._meta.concrete_fields
    columns = [f't."{f.column}"' for f in token_fields] + [f'u."{f.column}"' for f in user_fields]
    tables = (
        f'{ApiToken._meta.db_table} t JOIN "{user_model._meta.db_table}" u '
        f'ON u."{user_model._meta.pk.column}" = t."{user_field.column}"'
    )
    # Table and column names come from the models; the secret's hash is a parameter.
    sql = (
        f"SELECT {', '.join(columns)}, {TOKEN_TOUCH_DUE_SQL} FROM {tables} WHERE t.key_hash = %s AND {USABLE_TOKEN_SQL}"  # noqa: S608
    )
    return _TokenQuery(sql, [f.attname for f in token_fields], [f.attname for f in user_fields], user_model)


def _fetch_one(sql: str, params: list):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


class SignInFailure(models.Model):
    """Failed sign-ins of one user name from one client address (``api.signin_throttle``).

    ``failures`` counts a run of failures each within the window of the one before; the per-user
    and per-address limits add up the runs that have not expired. Shared by every web process."""

    username = models.CharField(max_length=150)
    ip = models.GenericIPAddressField(unpack_ipv4=True)
    failures = models.PositiveIntegerField(default=0)
    first_failure = models.DateTimeField()
    last_failure = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["username", "ip"], name="signin_failure_user_ip_uniq")]
        indexes = [models.Index(fields=["ip"], name="signin_failure_ip_idx")]

    def __str__(self) -> str:
        return f"{self.username} from {self.ip}: {self.failures}"
