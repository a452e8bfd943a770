import structlog


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
