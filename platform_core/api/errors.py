"""One JSON error shape for the whole API.

Every error body is ``{"error": {"code": ..., "message": ..., "details": ...}}``
so clients need a single code path to show what went wrong.
"""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


class ApiError(exceptions.APIException):
    """An error with an explicit code, raised by views and services' callers."""

    def __init__(self, status_code: int, code: str, message: str, details: dict | None = None):
        self.status_code = status_code
        self.error_code = code
        self.details = details or {}
        super().__init__(detail=message, code=code)


class PayloadTooLarge(ApiError):
    def __init__(self, message: str = "The request body is too large."):
        super().__init__(status.HTTP_413_REQUEST_ENTITY_TOO_LARGE, "payload_too_large", message)


def error_response(status_code: int, code: str, message: str, details: dict | None = None, headers=None) -> Response:
    return Response(
        {"error": {"code": code, "message": message, "details": details or {}}}, status=status_code, headers=headers
    )


def _first_message(detail) -> str:
    if isinstance(detail, list) and detail:
        return _first_message(detail[0])
    if isinstance(detail, dict) and detail:
        key, value = next(iter(detail.items()))
        text = _first_message(value)
        return text if key == "non_field_errors" else f"{key}: {text}"
    return str(detail)


_CODES = {
    400: "invalid",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    415: "unsupported_media_type",
    429: "throttled",
}


def exception_handler(exc, context):
    if isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge()
    if isinstance(exc, ApiError):
        return error_response(exc.status_code, exc.error_code, str(exc.detail), exc.details)
    if isinstance(exc, Http404):
        return error_response(404, "not_found", "Not found.")
    if isinstance(exc, DjangoPermissionDenied):
        return error_response(403, "permission_denied", str(exc) or "Permission denied.")

    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # unexpected: let Django log it and answer 500
    if isinstance(exc, exceptions.ValidationError):
        details = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        return error_response(400, "invalid", _first_message(exc.detail), details)
    if isinstance(exc, exceptions.ParseError):
        return error_response(400, "malformed_request", str(exc.detail))
    code = _CODES.get(response.status_code, "error")
    headers = {k: v for k, v in response.items() if k in ("Retry-After", "WWW-Authenticate", "Allow")}
    return error_response(
        response.status_code, code, _first_message(response.data.get("detail", response.data)), {}, headers
    )
