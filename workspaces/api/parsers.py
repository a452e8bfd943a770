"""Request parsers of the workspaces API."""

import html

from django.conf import settings
from django.http.multipartparser import MultiPartParser as DjangoMultiPartParser
from django.http.multipartparser import MultiPartParserError
from rest_framework.exceptions import ParseError
from rest_framework.parsers import DataAndFiles, MultiPartParser

from workspaces.files import is_control_character


class _NameKeepingDjangoParser(DjangoMultiPartParser):
    def sanitize_file_name(self, file_name):
        # Django drops non-printable characters from upload names without a
        # word, so "a<ESC>b.txt" would be saved as "ab.txt". A name holding
        # control characters is passed on instead (only its last path element,
        # as Django does) for the files layer to refuse with a clear error.
        last_element = html.unescape(file_name).rsplit("/")[-1].rsplit("\\")[-1]
        if any(is_control_character(character) for character in last_element):
            return last_element
        return super().sanitize_file_name(file_name)


class UploadParser(MultiPartParser):
    """multipart/form-data that keeps upload names holding control characters, so they can be refused."""

    def parse(self, stream, media_type=None, parser_context=None):
        # As rest_framework's MultiPartParser.parse, with the Django parser above.
        parser_context = parser_context or {}
        request = parser_context["request"]
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        try:
            "".encode(encoding)  # a text codec, never bz2_codec and the like
        except (LookupError, UnicodeError) as error:
            raise ParseError(f'Unsupported charset "{encoding}" in request Content-Type header.') from error
        meta = request.META.copy()
        meta["CONTENT_TYPE"] = media_type
        try:
            data, files = _NameKeepingDjangoParser(meta, stream, request.upload_handlers, encoding).parse()
        except MultiPartParserError as error:
            raise ParseError(f"Multipart form parse error - {error}") from error
        return DataAndFiles(data, files)
