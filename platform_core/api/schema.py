"""The OpenAPI schema, made to tell the truth so generated clients work.

drf-spectacular documents the success answer of each operation; ``ApiAutoSchema``
adds, in this one place, what it cannot see:

- the error answers every operation can give, all with the ``Error`` shape of
  ``platform_core.api.errors``: 401 and 403 (every operation needs a signed-in
  user; 403 also covers a session's failed CSRF check), 429 (throttling), 400
  for every operation that takes a body or query parameters, 413 and 415 for
  every operation with a body, 404 for every operation with a path parameter or
  a paginated list (``?page=`` past the end). Views add the answers only they
  give (409, 415 for binary files, 503) with ``error_responses()``;
- ``additionalProperties: false`` on request bodies whose serializer is a
  ``StrictSerializer``, which refuses unknown fields;
- for request text fields and string query parameters, what DRF and Django
  refuse beyond the declared lengths: NUL characters, and text that is only
  whitespace where blanks are not allowed; and that every request body is
  required.

tests/test_api_schema.py runs Schemathesis against the live server to hold the
schema to this.
"""

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import force_instance
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers

from platform_core.api.serializers import StrictSerializer

NO_NUL = r"^[^\u0000]*$"
# At least one character that is not whitespace (DRF trims text before it checks for blanks).
NOT_BLANK = r"^[^\u0000]*[^\u0000\s][^\u0000]*$"


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable, machine-readable: see docs/api.md for the list.")
    message = serializers.CharField(help_text="For people: what went wrong and what to do.")
    details = serializers.DictField(help_text="Per-field messages for `invalid`; extra facts for some codes.")


class ErrorSerializer(serializers.Serializer):
    """Every error answer of the API."""

    error = ErrorDetailSerializer()


ERROR_DESCRIPTIONS = {
    400: "The request is invalid: `invalid` (details per field, unknown fields included), `malformed_request`, "
    "or a code about the request's content such as `invalid_path`, `name_too_long`, `path_too_long`, "
    "`confirmation_required`.",
    401: "`not_authenticated`: sign in or send `Authorization: Bearer <token>`.",
    403: "`permission_denied` (your role does not allow this, or a session's CSRF check failed), `outside_workspace`.",
    404: "`not_found` (also for workspaces you cannot see, and for `?page=` past the end), `no_session`.",
    409: "The request conflicts with the current state: `conflict` (stale etag; `details.current_etag`), "
    "`exists`, `not_empty`, `not_a_file`, `not_a_directory`, `workspace_not_ready`, `already_member`, "
    "`last_owner`, `inactive_user`, `busy`, `runner_exited` (runner).",
    413: "`payload_too_large`, `file_too_large`.",
    415: "`unsupported_media_type` (send JSON, or multipart where documented), `binary_file`.",
    429: "`throttled`; `Retry-After` says when to try again.",
    503: "`environment_refresh_failed` (runner), `unavailable` (language server).",
}


def error_responses(*statuses: int) -> dict:
    """``{status: the Error response}``, for a view's ``@extend_schema(responses=...)``."""
    return {status: OpenApiResponse(ErrorSerializer, description=ERROR_DESCRIPTIONS[status]) for status in statuses}


class ApiAutoSchema(AutoSchema):
    """drf-spectacular's AutoSchema plus the error answers and refusals described above."""

    def _has_request_body(self) -> bool:
        return self.method in ("POST", "PUT", "PATCH") and self.get_request_serializer() is not None

    def _generic_error_statuses(self) -> list[int]:
        statuses = [401, 403, 429]
        parameters = self._get_parameters()
        # Every POST, PUT and PATCH: a body is checked (JSON depth and size, say) even where it is ignored.
        if self.method in ("POST", "PUT", "PATCH") or any(parameter["in"] == "query" for parameter in parameters):
            statuses.append(400)
        if self._has_request_body():
            statuses += [413, 415]
        if any(parameter["in"] == "path" for parameter in parameters) or (
            self._is_list_view() and self._get_paginator()
        ):
            statuses.append(404)
        return statuses

    def _get_parameters(self):
        parameters = super()._get_parameters()
        for parameter in parameters:
            schema = parameter.get("schema", {})
            # Django's forms (behind django-filter and the search filter) refuse NUL characters.
            plain_text = schema.get("type") == "string" and not {"pattern", "enum", "format"} & set(schema)
            if parameter["in"] == "query" and plain_text:
                schema["pattern"] = NO_NUL
        return parameters

    def _get_request_body(self, direction="request"):
        body = super()._get_request_body(direction)
        if body is not None:
            # Every body of ours is required: without one, validation refuses the empty data.
            body["required"] = True
        return body

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        for status in self._generic_error_statuses():
            if str(status) not in responses:
                response = OpenApiResponse(ErrorSerializer, description=ERROR_DESCRIPTIONS[status])
                responses[str(status)] = self._get_response_for_code(
                    response, str(status), ["application/json"], direction
                )
        return dict(sorted(responses.items()))

    def _map_basic_serializer(self, serializer, direction):
        schema = super()._map_basic_serializer(serializer, direction)
        if direction != "request":
            return schema
        serializer = force_instance(serializer)
        if isinstance(serializer, StrictSerializer):
            schema["additionalProperties"] = False
        for name, field in serializer.fields.items():
            field_schema = schema["properties"].get(name)
            if isinstance(field, serializers.ListField) and field_schema:
                field, field_schema = field.child, field_schema.get("items")
            _describe_text_refusals(field, field_schema)
        return schema


def _describe_text_refusals(field, field_schema: dict | None) -> None:
    # Plain text fields only: choices, formats and hand-written schemas say enough.
    if type(field) is not serializers.CharField or not field_schema or field_schema.get("type") != "string":
        return
    if "pattern" not in field_schema and "enum" not in field_schema:
        blank_allowed = field.allow_blank or not field.trim_whitespace
        field_schema["pattern"] = NO_NUL if blank_allowed else NOT_BLANK
