"""Account pages, health and metrics."""

from axes.handlers.proxy import AxesProxyHandler
from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.signals import user_login_failed
from django.db import connection, transaction
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.crypto import constant_time_compare
from django.views.decorators.cache import never_cache
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from platform_core import access, services, signin_protection


@login_required
def api_tokens(request):
    return render(request, "accounts/tokens.html")


class PasswordChangeView(auth_views.PasswordChangeView):
    """Change one's password; the current password is checked under the sign-in rules.

    Without them a stolen session could guess the current password here, with
    no limit, and then take the account over for good.
    """

    def post(self, request, *args, **kwargs):
        credentials = {"username": request.user.get_username()}
        if not AxesProxyHandler.is_allowed(request, credentials):
            return signin_protection.lockout_response(request)
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form):
        if form.has_error("old_password"):
            user_login_failed.send(
                sender=__name__, credentials={"username": self.request.user.get_username()}, request=self.request
            )
        return super().form_invalid(form)

    def form_valid(self, form):
        # The new password signs out the user's other sessions, and their open
        # WebSockets close (platform_core.access). This browser stays signed in
        # under a new session key; its sockets follow that key. The new key,
        # with the new password's hash, is stored before the commit that
        # announces the change, so the re-check finds it.
        previous_session_key = self.request.session.session_key
        with transaction.atomic():
            response = super().form_valid(form)
            self.request.session.save()
            access.remember_session_renewed(previous_session_key, self.request.session.session_key)
        services.record_password_change(self.request.user)
        return response


@never_cache
def healthz(request):
    """Liveness and database reachability, for load balancers and Docker."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as error:  # noqa: BLE001 - any database failure means unhealthy
        return JsonResponse({"status": "error", "database": type(error).__name__}, status=503)
    return JsonResponse({"status": "ok"})


def _metrics_allowed(request) -> bool:
    if request.user.is_authenticated and request.user.is_site_admin:
        return True
    expected = settings.METRICS_TOKEN
    header = request.headers.get("authorization", "")
    return bool(expected) and constant_time_compare(header, f"Bearer {expected}")


@never_cache
def metrics(request):
    if not _metrics_allowed(request):
        return JsonResponse(
            {
                "error": {
                    "code": "not_authenticated",
                    "message": "Metrics need an admin session or the metrics token.",
                    "details": {},
                }
            },
            status=401,
            headers={"WWW-Authenticate": "Bearer"},
        )
    return HttpResponse(generate_latest(REGISTRY), content_type=CONTENT_TYPE_LATEST)
