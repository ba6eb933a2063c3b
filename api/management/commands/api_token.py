"""``manage.py api_token create|list|revoke``: manage API tokens without the UI.

manage.py api_token create --user deploy --name "puppetboard" --scope read [--expires 90d]
manage.py api_token list [--user deploy] [--all]
manage.py api_token revoke <id or prefix>
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from api import tokens
from config.env import parse_duration


class Command(BaseCommand):
    help = "Create, list and revoke API tokens (scopes: read, write, classify, admin)."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create")
        create.add_argument("--user", required=True)
        create.add_argument("--name", required=True)
        create.add_argument("--scope", action="append", required=True, dest="scopes")
        create.add_argument("--expires", help="lifetime, e.g. 90d (default: never)")
        create.add_argument("--create-user", action="store_true", help="create the (service) user if missing")
        listing = sub.add_parser("list")
        listing.add_argument("--user")
        listing.add_argument("--all", action="store_true", help="include revoked tokens")
        revoke = sub.add_parser("revoke")
        revoke.add_argument("token", help="id or prefix")

    def handle(self, *args, action, **options):
        try:
            if action == "create":
                expires = parse_duration(options["expires"]) if options.get("expires") else None
                scopes = [s for value in options["scopes"] for s in value.split(",") if s]
                token, raw = tokens.create_token(
                    username=options["user"],
                    name=options["name"],
                    scopes=scopes,
                    expires_in=expires,
                    create_user=options["create_user"],
                )
                self.stderr.write(
                    f"token {token.id} ({token.key_prefix}…) for {token.user.username}: "
                    f"{','.join(token.scopes)}; shown once:"
                )
                self.stdout.write(raw)
            elif action == "list":
                now = timezone.now()
                for t in tokens.list_tokens(options.get("user"), include_revoked=options["all"]):
                    state = "revoked" if t.revoked else ("expired" if t.expires and t.expires < now else "active")
                    self.stdout.write(
                        f"{t.id}\t{t.key_prefix}\t{t.user.username}\t{t.name}\t{','.join(t.scopes)}\t{state}\t"
                        f"last used {t.last_used or 'never'}"
                    )
            else:
                token = tokens.revoke_token(options["token"])
                self.stdout.write(f"revoked {token.id} ({token.key_prefix}…) {token.name}")
        except (tokens.TokenError, ValueError) as exc:
            raise CommandError(str(exc)) from None
