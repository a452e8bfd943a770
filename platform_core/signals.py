"""Authentication events into the audit log."""

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from platform_core import services


def connect() -> None:
    # Receivers are registered by importing this module; the function makes
    # the import explicit in AppConfig.ready.
    return None


@receiver(user_logged_in, dispatch_uid="audit_login")
def _on_login(sender, request, user, **kwargs):
    services.record_login(user)


@receiver(user_logged_out, dispatch_uid="audit_logout")
def _on_logout(sender, request, user, **kwargs):
    services.record_logout(user)


@receiver(user_login_failed, dispatch_uid="audit_login_failed")
def _on_login_failed(sender, credentials, request=None, **kwargs):
    services.record_failed_login(str(credentials.get("username", "")))
