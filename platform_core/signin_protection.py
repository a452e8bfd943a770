"""Sign-in protection that slows password guessing without handing anyone a way
to lock a real user out.

django-axes records every failed password check (sign-in page, admin sign-in,
password change) as ``AccessAttempt`` rows per (username, address, user agent)
and ``AccessFailureLog`` rows per failure. On top of those records three rules
decide whether the next attempt is refused before the password is looked at:

1. **Account from one address.** ``LOGIN_FAILURE_LIMIT`` failures for one
   username from one address within ``LOGIN_LOCKOUT_MINUTES`` refuse that pair
   until the window has passed. Only the offending address is refused, so an
   attacker cannot lock the administrator out: the administrator's own address
   is untouched. (axes' own rule: ``AXES_LOCKOUT_PARAMETERS``.)
2. **Address across accounts.** ``LOGIN_IP_FAILURE_LIMIT`` failures from one
   address within the window, whatever the usernames, refuse that address, so
   one machine cannot spray passwords over every account.
3. **Account from everywhere.** A username that keeps failing from many
   addresses (a distributed guess) is slowed: after twice ``LOGIN_FAILURE_LIMIT``
   failures since its last successful sign-in (at most a day back), each further
   attempt must wait twice as long as the one before (1 s, 2 s, 4 s ... up to
   ``LOGIN_LOCKOUT_MINUTES``) after the last failure. One address alone cannot
   reach that count (rule 1 stops it first).

Rules 2 and 3 do not apply to a *known device*: a browser carrying the signed
cookie this module sets when someone signs in successfully, naming the accounts
signed in from it. That is what keeps them from being turned against the real
user (OWASP's "device cookie" defence): a spray from the office's shared
address, or a botnet guessing the administrator's password, refuses strangers
while the people who sign in from that browser every day get in. The cookie
only lifts the refusal; the password is still checked, and failures from it
still count.

Why not axes' ``AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"], "ip_address"]``
alone: axes compares every combination with the same limit, and its reset on a
successful sign-in deletes every row matching any combination, so an attacker
with one valid account would wipe their own per-address count by signing in.
Here a success only clears the failures of that (username, address) pair.

Refused attempts are not recorded (``AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT
= False``): hammering a locked door does not move the time it opens, which is
the time the lockout page and the ``Retry-After`` header promise.
"""

import json
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username, get_cool_off
from axes.models import AccessAttempt, AccessFailureLog
from axes.signals import user_locked_out
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import signing
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone

# Rule 3: how far back failures count (a success also starts the count afresh)
# and the first delay, doubled with every further failure.
ACCOUNT_FAILURE_WINDOW = timedelta(days=1)
ACCOUNT_FIRST_DELAY = timedelta(seconds=1)

KNOWN_DEVICE_COOKIE = "devbench_known_device"
KNOWN_DEVICE_SALT = "platform_core.signin_protection.known_device"
KNOWN_DEVICE_MAX_AGE = timedelta(days=180)
KNOWN_DEVICE_MAX_ACCOUNTS = 10  # accounts one browser remembers, newest first


@dataclass(frozen=True)
class Lockout:
    """Why a sign-in attempt is refused and when it may be tried again."""

    reason: str  # "account_from_address" | "address" | "account"
    username: str
    retry_at: datetime

    def retry_after_seconds(self, now: datetime) -> int:
        return max(1, math.ceil((self.retry_at - now).total_seconds()))

    def message(self, now: datetime) -> str:
        wait = _describe_wait(self.retry_after_seconds(now))
        if self.reason == "account_from_address":
            why = f"Too many failed sign-in attempts for “{self.username}” from your address."
        elif self.reason == "address":
            why = "Too many failed sign-in attempts from your address, across accounts."
        else:
            why = (
                f"Many failed sign-in attempts for “{self.username}” from several addresses: "
                "browsers that have not signed in to this account before must wait between attempts."
            )
        return f"{why} Try again in {wait}, or ask an administrator to unlock it."


def _describe_wait(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = math.ceil(seconds / 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def _unlocked_at(rows: list[tuple[datetime, int]], limit: int, window: timedelta) -> datetime | None:
    """When the failures in ``rows`` (time of a row's last failure, its count)
    drop below ``limit`` as rows age out of the window; None if they already are."""
    remaining = sum(failures for _, failures in rows)
    if remaining < limit:
        return None
    for attempt_time, failures in sorted(rows):
        remaining -= failures
        if remaining < limit:
            return attempt_time + window
    raise AssertionError("unreachable: the loop empties remaining")


def _account_retry_at(username: str, now: datetime) -> datetime | None:
    since = now - ACCOUNT_FAILURE_WINDOW
    last_login = get_user_model().objects.filter(username=username).values_list("last_login", flat=True).first()
    if last_login is not None:
        since = max(since, last_login)
    failures = AccessFailureLog.objects.filter(username=username, attempt_time__gt=since)
    count = failures.count()
    threshold = 2 * settings.AXES_FAILURE_LIMIT
    if count < threshold:
        return None
    cap = get_cool_off()
    # Cap the exponent first: 2 ** 1000 seconds does not fit a timedelta.
    doublings = min(count - threshold, 40)
    delay = min(ACCOUNT_FIRST_DELAY * (2**doublings), cap)
    last_failure = failures.order_by("-attempt_time").values_list("attempt_time", flat=True).first()
    return last_failure + delay


def find_lockout(request: HttpRequest, username: str | None) -> Lockout | None:
    """The rule that refuses this attempt (the one that lasts longest), if any."""
    now = request.axes_attempt_time
    window = get_cool_off(request)
    address = request.axes_ip_address
    recent = AccessAttempt.objects.filter(attempt_time__gte=now - window, ip_address=address)
    rows = list(recent.values_list("username", "attempt_time", "failures_since_start"))

    candidates: list[Lockout] = []
    pair_rows = [(time, failures) for name, time, failures in rows if username and name == username]
    retry_at = _unlocked_at(pair_rows, settings.AXES_FAILURE_LIMIT, window)
    if retry_at:
        candidates.append(Lockout("account_from_address", username, retry_at))
    if not (username and is_known_device(request, username)):
        address_rows = [(time, failures) for _, time, failures in rows]
        retry_at = _unlocked_at(address_rows, settings.LOGIN_IP_FAILURE_LIMIT, window)
        if retry_at:
            candidates.append(Lockout("address", username or "", retry_at))
        retry_at = _account_retry_at(username, now) if username else None
        if retry_at and retry_at > now:
            candidates.append(Lockout("account", username, retry_at))
    return max(candidates, key=lambda lockout: lockout.retry_at, default=None)


class SignInProtectionHandler(AxesDatabaseHandler):
    """axes' database handler with the three rules of this module.

    axes calls ``is_locked`` before checking a password (through its
    authentication backend) and ``user_login_failed`` after a wrong one; both
    leave the refusing ``Lockout`` on ``request.signin_lockout`` for the
    lockout page.
    """

    def is_locked(self, request, credentials=None) -> bool:
        request.signin_lockout = find_lockout(request, get_client_username(request, credentials))
        return request.signin_lockout is not None

    def user_login_failed(self, sender, credentials: dict, request=None, **kwargs):
        super().user_login_failed(sender, credentials, request, **kwargs)
        if request is None or (request.axes_locked_out and getattr(request, "signin_lockout", None)):
            return  # refused before the password was checked; nothing new to decide
        # axes applied rule 1 to the failure just recorded; apply all three, so
        # the attempt that reaches a limit already gets the lockout page.
        username = get_client_username(request, credentials)
        request.signin_lockout = find_lockout(request, username)
        if request.signin_lockout is not None and not request.axes_locked_out:
            request.axes_locked_out = True
            request.axes_credentials = credentials
            user_locked_out.send("axes", request=request, username=username, ip_address=request.axes_ip_address)

    def user_logged_in(self, sender, request, user, **kwargs):
        # Clears this (username, address) pair's failures (AXES_RESET_ON_SUCCESS).
        super().user_logged_in(sender, request, user, **kwargs)
        request.signin_remember_user_id = user.pk


def lockout_response(request: HttpRequest, *args) -> HttpResponse:
    """The answer to a refused sign-in (``AXES_LOCKOUT_CALLABLE``): 429 with
    ``Retry-After``, as a page or, for clients that do not take HTML, the
    API's error shape.

    axes passes (request, original_response, credentials) from synchronous
    middleware but (request, credentials) from asynchronous middleware, so the
    extra arguments are ignored and everything is read from the request.
    """
    now = timezone.now()
    lockout = getattr(request, "signin_lockout", None)
    if lockout is None:  # not expected: axes refused without asking this module
        lockout = Lockout("account_from_address", "", now + get_cool_off(request))
    retry_after = lockout.retry_after_seconds(now)
    headers = {"Retry-After": str(retry_after)}
    message = lockout.message(now)
    if not request.accepts("text/html"):
        details = {"reason": lockout.reason, "retry_after": retry_after, "retry_at": lockout.retry_at.isoformat()}
        body = {"error": {"code": "locked_out", "message": message, "details": details}}
        return JsonResponse(body, status=429, headers=headers)
    context = {"message": message, "lockout": lockout, "retry_after": retry_after}
    response = render(request, "registration/locked_out.html", context, status=429)
    response["Retry-After"] = headers["Retry-After"]
    return response


def known_device_user_ids(request: HttpRequest) -> list[int]:
    try:
        raw = request.get_signed_cookie(
            KNOWN_DEVICE_COOKIE, salt=KNOWN_DEVICE_SALT, max_age=KNOWN_DEVICE_MAX_AGE.total_seconds()
        )
        ids = json.loads(raw)
    except (KeyError, signing.BadSignature, ValueError):
        return []
    return [value for value in ids if isinstance(value, int)] if isinstance(ids, list) else []


def is_known_device(request: HttpRequest, username: str) -> bool:
    ids = known_device_user_ids(request)
    return bool(ids) and get_user_model().objects.filter(pk__in=ids, username=username).exists()


class KnownDeviceMiddleware:
    """Remember, in a signed cookie, the accounts signed in from this browser.

    The cookie outlives sessions and logouts on purpose: it is how rules 2 and
    3 above tell the real user from a stranger. It holds user ids only, signed
    with SECRET_KEY, so it cannot be forged for another account.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        user_id = getattr(request, "signin_remember_user_id", None)
        if user_id is not None:
            ids = [user_id, *(known for known in known_device_user_ids(request) if known != user_id)]
            response.set_signed_cookie(
                KNOWN_DEVICE_COOKIE,
                json.dumps(ids[:KNOWN_DEVICE_MAX_ACCOUNTS]),
                salt=KNOWN_DEVICE_SALT,
                max_age=int(KNOWN_DEVICE_MAX_AGE.total_seconds()),
                secure=settings.SESSION_COOKIE_SECURE,
                httponly=True,
                samesite="Lax",
            )
        return response
