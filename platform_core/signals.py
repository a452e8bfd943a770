"""Authentication events into the audit log, and account changes to the access watcher."""

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from platform_core import access, services
from platform_core.models import User

# Fields of a user whose change can take access away from their open sockets.
ACCESS_FIELDS = frozenset({"is_active", "password", "site_role", "is_superuser"})


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


@receiver(user_logged_out, dispatch_uid="access_logout")
def _close_sockets_of_signed_out_session(sender, request, user, **kwargs):
    session_key = getattr(getattr(request, "session", None), "session_key", None)
    if user is not None and session_key:
        access.announce_signed_out(session_key, user.pk)


@receiver(user_login_failed, dispatch_uid="audit_login_failed")
def _on_login_failed(sender, credentials, request=None, **kwargs):
    services.record_failed_login(str(credentials.get("username", "")))


@receiver(post_save, sender=User, dispatch_uid="access_user_saved")
def _recheck_sockets_of_changed_user(sender, instance, created, update_fields=None, **kwargs):
    # Deactivation, a new password (it signs out the other sessions) or a
    # lower site role, from the admin or anywhere else. Saves that touch none
    # of these (the last-login stamp) are not worth a re-check.
    if created or (update_fields is not None and not ACCESS_FIELDS.intersection(update_fields)):
        return
    access.announce_access_change("user_changed", user_id=instance.pk)


@receiver(post_delete, sender=User, dispatch_uid="access_user_deleted")
def _close_sockets_of_deleted_user(sender, instance, **kwargs):
    access.announce_access_change("user_deleted", user_id=instance.pk)
