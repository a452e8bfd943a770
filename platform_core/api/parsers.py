"""The API's JSON parser: DRF's, behind the platform's JSON limits (platform_core/json_limits.py)."""

import io

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser, get_encoding

from platform_core import json_limits
from platform_core.api.errors import PayloadTooLarge


class LimitedJSONParser(JSONParser):
    """Refuses a body over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` (413 ``payload_too_large``, as Django does
    for form bodies) and one nested deeper than ``JSON_MAX_DEPTH`` (400 ``malformed_request``) before
    the parser sees it.

    DRF reads JSON bodies from the request stream, past Django's own
    ``DATA_UPLOAD_MAX_MEMORY_SIZE`` check (which guards ``request.body``), so
    the size is checked here too.
    """

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        body = stream.read(limit + 1) if stream is not None else b""
        if len(body) > limit:
            raise PayloadTooLarge(f"JSON bodies are limited to {limit} bytes.")
        encoding = get_encoding(parser_context or {})
        try:
            json_limits.check(body.decode(encoding), max_depth=settings.JSON_MAX_DEPTH)
        except json_limits.JsonLimitError as error:
            raise ParseError(str(error)) from None
        except (UnicodeDecodeError, LookupError):
            raise ParseError(f"The body is not valid {encoding} text.") from None
        return super().parse(io.BytesIO(body), media_type, parser_context)
