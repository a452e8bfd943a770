import structlog
from csp.middleware import CSPMiddleware
from django.core.exceptions import DisallowedHost


class RequestIdHeaderMiddleware:
    """Expose the request id to clients and bind the user agent for audit rows.

    django-structlog's RequestMiddleware (which runs first) generates the id and
    binds it with the client ip; returning it as X-Request-ID lets people quote
    it when they report a problem.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        structlog.contextvars.bind_contextvars(user_agent=request.headers.get("user-agent", "")[:512])
        response = self.get_response(request)
        request_id = structlog.contextvars.get_contextvars().get("request_id")
        if request_id:
            response["X-Request-ID"] = request_id
        return response


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    """django-csp's middleware, with this site's own WebSocket origin added to connect-src.

    CSP level 3 lets 'self' cover ws:// and wss:// of the page's host, but browsers that follow
    level 2 (Safari before 15.4, for one) do not, and the IDE's terminals and language servers
    are WebSockets. The origin comes from the request's Host, which Django has already checked
    against ALLOWED_HOSTS.
    """

    def get_policy_parts(self, request, response, report_only=False):
        parts = super().get_policy_parts(request, response, report_only)
        try:
            host = request.get_host()
        except DisallowedHost:  # the "bad request" page opens no sockets
            return parts
        update = dict(parts.update or {})
        connect_sources = update.get("connect-src") or []
        if isinstance(connect_sources, str):
            connect_sources = [connect_sources]
        update["connect-src"] = [*connect_sources, f"{'wss' if request.is_secure() else 'ws'}://{host}"]
        parts.update = update
        return parts
