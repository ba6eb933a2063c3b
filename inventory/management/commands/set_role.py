"""Give a user one web UI role (viewer, editor or admin), replacing any other role they had."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError

from inventory.ui.access import ROLES


class Command(BaseCommand):
    help = "Set the web UI role of a user: viewer, editor or admin (creates the role groups if needed)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("role", choices=[*ROLES, "none"])

    def handle(self, *args, username, role, **options):
        User = get_user_model()
        try:
            user = User.objects.get(username=username)
        except User.DoesNotExist as exc:
            raise CommandError(f"no user named {username!r}") from exc
        groups = {name: Group.objects.get_or_create(name=name)[0] for name in ROLES}
        user.groups.remove(*groups.values())
        if role != "none":
            user.groups.add(groups[role])
        self.stdout.write(f"{username}: role {role}")
