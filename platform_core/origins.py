"""Web origins (scheme, host, port) as the browser sends them in an Origin header.

Pure parsing and matching, no settings: the settings module validates origin lists with
``parse_origin`` at start-up, and the WebSocket origin check compares with ``origin_matches``.
"""

from typing import NamedTuple
from urllib.parse import urlsplit

from django.utils.http import is_same_domain

DEFAULT_PORTS = {"http": 80, "https": 443}


class Origin(NamedTuple):
    """An origin with its port spelled out (``http://a`` and ``http://a:80`` are one origin).

    ``host`` is lower case, without the brackets of an IPv6 address. A host starting with ``*.``
    (only from configuration, never from a browser) stands for the domain and its subdomains, as
    in Django's CSRF_TRUSTED_ORIGINS.
    """

    scheme: str
    host: str
    port: int


def parse_origin(text: str, *, allow_wildcard: bool = False) -> Origin | None:
    """The origin ``text`` names, or None when it is not exactly ``http(s)://host[:port]``.

    ``null`` (sandboxed frames, file: pages), paths, credentials and bad ports are all None.
    """
    try:
        parts = urlsplit(text.strip())
        port = parts.port
    except ValueError:  # an unclosed IPv6 bracket or a port that is not a number
        return None
    scheme = parts.scheme.lower()
    host = parts.hostname
    if scheme not in DEFAULT_PORTS or not host or parts.username is not None or parts.password is not None:
        return None
    if parts.path or parts.query or parts.fragment or text.strip().endswith(("?", "#")):
        return None
    if "*" in host and not (allow_wildcard and host.startswith("*.") and "*" not in host[2:]):
        return None
    return Origin(scheme, host, port if port is not None else DEFAULT_PORTS[scheme])


def origin_matches(origin: Origin, allowed: Origin) -> bool:
    """Same scheme and port, and the same host (or a subdomain, for a ``*.`` pattern)."""
    if origin.scheme != allowed.scheme or origin.port != allowed.port:
        return False
    if allowed.host.startswith("*."):
        return is_same_domain(origin.host, allowed.host[1:])
    return origin.host == allowed.host
