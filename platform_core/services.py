"""State changes of platform_core: users, API tokens and jobs.

Each function owns its transaction and writes its audit row.
"""

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from platform_core import access, audit
from platform_core.models import ApiToken, User
from platform_core.models.tokens import generate_token, hash_token


def record_login(user: User) -> None:
    audit.record(user, "auth.login", user)


def record_logout(user: User | None) -> None:
    if user is not None and user.is_authenticated:
        audit.record(user, "auth.logout", user)


def record_failed_login(username: str) -> None:
    # The attempted username is kept (it is what an investigator needs); the
    # password never reaches this function.
    audit.record(None, "auth.login_failed", None, actor_username=username[:150], metadata={"username": username[:150]})


def record_password_change(user: User) -> None:
    audit.record(user, "auth.password_change", user)


@transaction.atomic
def do_set_site_role(user: User, role: str, *, acting_user: User) -> User:
    old_role = user.site_role
    user.site_role = role
    user.save()
    audit.record(acting_user, "user.role_change", user, changes={"site_role": (old_role, role)})
    return user


@transaction.atomic
def do_create_api_token(user: User, name: str, expires_in_days: int) -> tuple[ApiToken, str]:
    """Create a token and return it with its plaintext, which is never stored."""
    days = min(max(1, expires_in_days), settings.API_TOKEN_MAX_DAYS)
    plaintext = generate_token()
    token = ApiToken.objects.create(
        user=user,
        name=name,
        prefix=plaintext[:12],
        token_hash=hash_token(plaintext),
        expires_at=timezone.now() + timedelta(days=days),
    )
    audit.record(user, "token.create", token, metadata={"expires_at": token.expires_at.isoformat()})
    return token, plaintext


@transaction.atomic
def do_revoke_api_token(token: ApiToken, *, acting_user: User) -> ApiToken:
    token = ApiToken.objects.select_for_update().get(pk=token.pk)
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit.record(acting_user, "token.revoke", token, changes={"revoked_at": (None, token.revoked_at.isoformat())})
        # No WebSocket authenticates with a token today; one that does is closed by this.
        access.announce_access_change("token_revoked", user_id=token.user_id, token_id=token.pk)
    return token


def authenticate_api_token(plaintext: str) -> ApiToken | None:
    token = ApiToken.objects.active().select_related("user").filter(token_hash=hash_token(plaintext)).first()
    if token is None or not token.user.is_active:
        return None
    # Touch last_used_at at most once a minute to keep API calls write-free.
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token
