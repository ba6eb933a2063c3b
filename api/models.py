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
from django.db import models
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


class ApiTokenQuerySet(models.QuerySet):
    def usable(self):
        now = timezone.now()
        return self.filter(revoked__isnull=True).filter(models.Q(expires__isnull=True) | models.Q(expires__gt=now))


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

    objects = ApiTokenQuerySet.as_manager()

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
        lookup = cls.objects.usable().select_related("user").filter(key_hash=hash_token(raw))
        # A connection the server dropped fails once here (the lean ENC path runs without
        # per-request health checks) and is replaced.
        token = retry_if_disconnected(lambda: lookup.all().first())
        if token is None or not token.user.is_active:
            return None
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
