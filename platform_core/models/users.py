from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models


class DevbenchUserManager(UserManager):
    def create_superuser(self, username, email=None, password=None, **extra_fields):
        extra_fields.setdefault("site_role", User.SiteRole.ADMIN)
        return super().create_superuser(username, email, password, **extra_fields)


class User(AbstractUser):
    """A person who signs in to Devbench.

    The site role is the source of truth for platform-wide rights; Django's
    is_staff / is_superuser flags are derived from it on save so the admin site
    and permission checks cannot drift from the role shown in the UI.
    Workspace rights come from memberships, not from the site role.
    """

    class SiteRole(models.TextChoices):
        ADMIN = "admin", "Administrator"
        MEMBER = "member", "Member"
        AUDITOR = "auditor", "Auditor (read-only audit log)"

    site_role = models.CharField(max_length=16, choices=SiteRole.choices, default=SiteRole.MEMBER)

    objects = DevbenchUserManager()

    class Meta:
        ordering = ["username"]

    def save(self, *args, **kwargs):
        self.is_superuser = self.site_role == self.SiteRole.ADMIN
        # Auditors reach the admin site, where they only see the audit log.
        self.is_staff = self.site_role in (self.SiteRole.ADMIN, self.SiteRole.AUDITOR)
        super().save(*args, **kwargs)

    @property
    def is_site_admin(self) -> bool:
        return self.is_active and self.site_role == self.SiteRole.ADMIN

    @property
    def can_read_audit_log(self) -> bool:
        return self.is_active and self.site_role in (self.SiteRole.ADMIN, self.SiteRole.AUDITOR)
