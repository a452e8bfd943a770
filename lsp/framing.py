"""LSP base-protocol framing: ``Content-Length`` headers around JSON bodies on a byte stream.

The only place that knows about headers. Browsers exchange one JSON-RPC
message per WebSocket text frame; language servers speak this framing on
stdin/stdout. ``MessageReader`` takes whatever chunks the pipe delivers
(partial headers, several messages at once) and returns whole bodies;
``frame`` adds the header for the way back.
"""

import re

HEADER_END = b"\r\n\r\n"
MAX_HEADER_BYTES = 4096
_CONTENT_LENGTH = re.compile(rb"^content-length[ \t]*:[ \t]*(\d+)[ \t]*\r?$", re.IGNORECASE | re.MULTILINE)


class FramingError(ValueError):
    """The stream is not valid LSP framing (or a message is over the limit); it cannot be resynchronised."""


def frame(body: bytes) -> bytes:
    """``body`` (UTF-8 JSON) with its header, ready for a server's stdin."""
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


class MessageReader:
    """Splits a byte stream into message bodies; at most ``max_body_bytes`` each."""

    def __init__(self, max_body_bytes: int):
        self.max_body_bytes = max_body_bytes
        self._buffer = bytearray()
        self._body_length: int | None = None

    def feed(self, chunk: bytes) -> list[bytes]:
        """The bodies completed by ``chunk`` (possibly none); raises ``FramingError``."""
        self._buffer += chunk
        bodies = []
        while True:
            if self._body_length is None:
                end = self._buffer.find(HEADER_END)
                if end < 0:
                    if len(self._buffer) > MAX_HEADER_BYTES:
                        raise FramingError(f"No end of header within {MAX_HEADER_BYTES} bytes.")
                    return bodies
                self._body_length = self._parse_header(bytes(self._buffer[:end]))
                del self._buffer[: end + len(HEADER_END)]
            if len(self._buffer) < self._body_length:
                return bodies
            bodies.append(bytes(self._buffer[: self._body_length]))
            del self._buffer[: self._body_length]
            self._body_length = None

    def _parse_header(self, header: bytes) -> int:
        if len(header) > MAX_HEADER_BYTES:
            raise FramingError(f"Header longer than {MAX_HEADER_BYTES} bytes.")
        match = _CONTENT_LENGTH.search(header)
        if match is None:
            raise FramingError(f"Header without Content-Length: {header[:80]!r}")
        length = int(match.group(1))
        if length > self.max_body_bytes:
            raise FramingError(f"Message of {length} bytes exceeds the limit of {self.max_body_bytes}.")
        return length
