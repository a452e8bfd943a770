"""The Origin check of every WebSocket: scheme, host and port must match an allowed origin.

A browser sends the session cookie with a WebSocket handshake whichever page's script opens it:
cookies do not depend on the port, and another port of the same host counts as the same site for
SameSite. So a page served from another port of the platform's host (which a workspace user can
start from a terminal) could drive a signed-in user's terminal; only the Origin header tells that
page from the IDE. channels' AllowedHostsOriginValidator compares host names only, so this module
compares whole origins.

Allowed origins:
- the site's own: the scheme and Host the handshake was made to (ws -> http, wss -> https, or the
  TLS proxy's header when SECURE_PROXY_SSL_HEADER is set), provided Host is in ALLOWED_HOSTS: the
  rule Django's CSRF check applies to forms. An attacker's page cannot choose the Host header, and
  a host name rebound to this machine's address fails ALLOWED_HOSTS;
- CSRF_TRUSTED_ORIGINS, trusted to post forms with the session and so to open sockets with it;
- WEBSOCKET_ALLOWED_ORIGINS, for origins trusted with sockets only.

A missing Origin is refused too: every browser sends one on a WebSocket handshake, so only a
non-browser client leaves it out, and such a client (tests, bench scripts) sends the site's origin
as a browser would. ``null`` (sandboxed frames, file: pages) never matches.

Refusal happens before the socket is accepted, so the handshake answers HTTP 403.
"""

import structlog
from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host

from platform_core.origins import Origin, origin_matches, parse_origin

logger = structlog.get_logger(__name__)


class OriginValidator:
    """ASGI middleware in front of the WebSocket routes: refuses a handshake whose Origin is not allowed."""

    def __init__(self, application):
        self.application = application

    async def __call__(self, scope, receive, send):
        if scope["type"] == "websocket":
            origins = header_values(scope, b"origin")
            if not origin_allowed(scope, origins):
                logger.warning(
                    "websocket_origin_refused",
                    origin=origins[0][:200] if origins else None,
                    host=(header_values(scope, b"host") or [None])[0],
                    path=scope.get("path"),
                )
                return await WebsocketDenier.as_asgi()(scope, receive, send)
        return await self.application(scope, receive, send)


def origin_allowed(scope, origins: list[str]) -> bool:
    # Exactly one Origin: a handshake with two cannot say which page made it.
    if len(origins) != 1:
        return False
    origin = parse_origin(origins[0])
    if origin is None:
        return False
    return any(origin_matches(origin, allowed) for allowed in allowed_origins(scope))


def allowed_origins(scope) -> list[Origin]:
    configured = [*settings.CSRF_TRUSTED_ORIGINS, *settings.WEBSOCKET_ALLOWED_ORIGINS]
    # The settings validated these at start-up; a test overriding them is checked here again.
    allowed = [origin for text in configured if (origin := parse_origin(text, allow_wildcard=True))]
    own = site_origin(scope)
    if own is not None:
        allowed.append(own)
    return allowed


def site_origin(scope) -> Origin | None:
    """The origin the handshake was made to, or None when its Host is not one of ours."""
    hosts = header_values(scope, b"host")
    if len(hosts) != 1:
        return None
    domain, _port = split_domain_port(hosts[0])
    allowed_hosts = settings.ALLOWED_HOSTS
    if settings.DEBUG and not allowed_hosts:  # as Django's HttpRequest.get_host does
        allowed_hosts = [".localhost", "127.0.0.1", "[::1]"]
    if not domain or not validate_host(domain, allowed_hosts):
        return None
    return parse_origin(f"{'https' if is_secure(scope) else 'http'}://{hosts[0]}")


def is_secure(scope) -> bool:
    """Whether the browser reached us over TLS, as Django's HttpRequest.is_secure decides it."""
    proxy_header = getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
    if proxy_header:
        meta_name, secure_value = proxy_header
        # HTTP_X_FORWARDED_PROTO -> x-forwarded-proto
        values = header_values(scope, meta_name.removeprefix("HTTP_").replace("_", "-").lower().encode())
        if values:
            return values[0].split(",", 1)[0].strip() == secure_value
    return scope.get("scheme", "ws") in ("wss", "https")


def header_values(scope, name: bytes) -> list[str]:
    return [value.decode("latin1") for key, value in scope.get("headers", []) if key.lower() == name]
