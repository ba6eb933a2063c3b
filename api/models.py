"""API tokens with scopes.

A token is shown once when created; only its sha256 is stored. Scopes: ``read`` (queries, API
reads), ``write`` (commands and report uploads), ``classify`` (the ENC), ``admin`` (everything,
including PuppetDB admin commands and token management).
"""

from __future__ import annotations

import hashlib
import secrets

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
        """The usable token (not revoked or expired, its user active) with this secret, and its
        user, in one statement (on every tokened request: no ORM query compilation)."""
        # A connection the server dropped fails once here (the lean ENC path runs without
        # per-request health checks) and is replaced.
        row = retry_if_disconnected(lambda: _lookup_token(hash_token(raw)))
        if row is None:
            return None
        token_fields, user_fields = _token_columns()
        values = list(row)
        token = cls.from_db(connection.alias, [f.attname for f in token_fields], values[: len(token_fields)])
        user_model = cls._meta.get_field("user").related_model
        user = user_model.from_db(connection.alias, [f.attname for f in user_fields], values[len(token_fields) :])
        if not user.is_active:
            return None
        token.user = user
        now = timezone.now()
        if token.last_used is None or (now - token.last_used).total_seconds() > 60:
            cls.objects.filter(pk=token.pk).update(last_used=now)  # at most one write a minute
            token.last_used = now
        return token

    def allows(self, scope: str) -> bool:
        return Scope.ADMIN in self.scopes or scope in self.scopes

    def revoke(self) -> None:
        self.revoked = timezone.now()
        self.save(update_fields=["revoked"])


_TOKEN_SQL: str | None = None


def _token_columns() -> tuple[list, list]:
    user_model = ApiToken._meta.get_field("user").related_model
    return list(ApiToken._meta.concrete_fields), list(user_model._meta.concrete_fields)


def _lookup_token(key_hash: str):
    global _TOKEN_SQL
    if _TOKEN_SQL is None:
        token_fields, user_fields = _token_columns()
        user_field = ApiToken._meta.get_field("user")
        user_meta = user_field.related_model._meta
        columns = [f't."{f.column}"' for f in token_fields] + [f'u."{f.column}"' for f in user_fields]
        tables = (
            f'{ApiToken._meta.db_table} t JOIN "{user_meta.db_table}" u '
            f'ON u."{user_meta.pk.column}" = t."{user_field.column}"'
        )
        usable = "t.key_hash = %s AND t.revoked IS NULL AND (t.expires IS NULL OR t.expires > now())"
        # Table and column names come from the models; the secret's hash is a parameter.
        _TOKEN_SQL = f"SELECT {', '.join(columns)} FROM {tables} WHERE {usable}"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(_TOKEN_SQL, [key_hash])
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
