"""Create the first administrator without a prompt, if there is none yet.

Follows Django's convention: DJANGO_SUPERUSER_USERNAME / _PASSWORD / _EMAIL.
Without a password in the environment a random one is generated, written to
<DATA_DIR>/initial-admin-password (readable by the owner only) and printed once.
"""

import os
import secrets

from django.conf import settings
from django.core.management.base import BaseCommand

from platform_core.models import User


class Command(BaseCommand):
    help = "Create the first administrator from DJANGO_SUPERUSER_* if no administrator exists."

    def handle(self, *args, **options):
        if User.objects.filter(site_role=User.SiteRole.ADMIN, is_active=True).exists():
            self.stdout.write("An administrator exists already.")
            return
        username = os.environ.get("DJANGO_SUPERUSER_USERNAME") or "admin"
        email = os.environ.get("DJANGO_SUPERUSER_EMAIL") or ""
        password = os.environ.get("DJANGO_SUPERUSER_PASSWORD")
        generated = not password
        if generated:
            password = secrets.token_urlsafe(12)
        User.objects.create_superuser(username=username, email=email, password=password)
        if generated:
            path = settings.DATA_DIR / "initial-admin-password"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(password + "\n")
            path.chmod(0o600)
            self.stdout.write(f"Created administrator {username!r} with password {password} (also in {path}).")
        else:
            self.stdout.write(f"Created administrator {username!r}.")
