"""Create the first admin user if there is none.

Credentials come from STAGEHAND_ADMIN_USER / STAGEHAND_ADMIN_PASSWORD; without a password one is
generated and printed once (it is not stored anywhere in clear).
"""

import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from config.env import env_str


class Command(BaseCommand):
    help = "Create the first admin (superuser) account if no superuser exists yet."

    def handle(self, *args, **options):
        User = get_user_model()
        if User.objects.filter(is_superuser=True).exists():
            self.stdout.write("admin: a superuser already exists, nothing to do")
            return
        username = env_str("STAGEHAND_ADMIN_USER", "admin")
        password = env_str("STAGEHAND_ADMIN_PASSWORD")
        generated = password is None
        if generated:
            password = secrets.token_urlsafe(12)
        User.objects.create_superuser(username=username, email="", password=password)
        if generated:
            self.stdout.write(
                self.style.WARNING(
                    f"admin: created superuser {username!r} with password {password!r} "
                    "(shown once; change it in the admin)"
                )
            )
        else:
            self.stdout.write(f"admin: created superuser {username!r} from STAGEHAND_ADMIN_* variables")
