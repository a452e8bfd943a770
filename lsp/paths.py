"""Workspace-rooted URIs for the browser, host paths for the language server.

The browser only ever sees ``file:///workspace/...`` (and a few read-only
roots such as ``file:///python/...`` for the standard library); the server
only ever sees real paths. ``PathMapper`` rewrites both directions, so host
paths never reach the browser and a runtime whose files live elsewhere (a
container) only has to supply different roots.
"""

import posixpath
from collections.abc import Iterable
from urllib.parse import quote, unquote

WORKSPACE_ROOT = "/workspace"


class OutsideWorkspaceError(ValueError):
    """A client message named a file outside the roots it may use."""


class PathMapper:
    """Rewrites paths and ``file://`` URIs between virtual roots and host roots.

    ``roots`` pairs each host directory with the virtual directory the
    browser sees, for example ``("/srv/workspaces/ws-3", "/workspace")``.
    """

    def __init__(self, roots: Iterable[tuple[str, str]]):
        pairs = [(posixpath.normpath(str(host)), posixpath.normpath(virtual)) for host, virtual in roots]
        # Longest first, so a root nested in another wins.
        self._to_host = sorted(((virtual, host) for host, virtual in pairs), key=lambda pair: -len(pair[0]))
        replacements: list[tuple[bytes, bytes]] = []
        for host, virtual in sorted(pairs, key=lambda pair: -len(pair[0])):
            quoted = quote(host)
            if quoted != host:
                replacements.append((quoted.encode(), quote(virtual).encode()))
            replacements.append((host.encode(), virtual.encode()))
        self._to_virtual = replacements

    # Server -> browser ------------------------------------------------------------------
    def to_client(self, body: bytes) -> bytes:
        """A server message with every host root (plain or percent-encoded, in URIs or text) made virtual.

        Works on the raw JSON: servers do not escape ``/`` and write other
        characters as UTF-8, so a host path appears verbatim wherever it is.
        """
        for host, virtual in self._to_virtual:
            if host in body:
                body = body.replace(host, virtual)
        return body

    # Browser -> server ------------------------------------------------------------------
    def to_server(self, message):
        """A client message (parsed JSON) with virtual URIs made real; raises ``OutsideWorkspaceError``."""
        return self._walk(message, None)

    def _walk(self, value, key):
        if isinstance(value, str):
            # URIs live in fields named "uri" or "...Uri" (textDocument.uri,
            # rootUri, targetUri, newUri, scopeUri, ...); file contents and
            # other text pass untouched even if they look like a URI.
            if key is not None and (key == "uri" or key.endswith("Uri")) and value:
                return self.uri_to_host(value)
            if key == "rootPath" and value:
                return self.path_to_host(value)
            return value
        if isinstance(value, dict):
            return {name: self._walk(item, name) for name, item in value.items()}
        if isinstance(value, list):
            return [self._walk(item, key) for item in value]
        return value

    def path_to_host(self, path: str) -> str:
        normal = posixpath.normpath(path)
        if not normal.startswith("/"):
            raise OutsideWorkspaceError(f"{path[:200]!r} is not an absolute workspace path.")
        for virtual, host in self._to_host:
            if normal == virtual:
                return host
            if normal.startswith(virtual + "/"):
                return host + normal[len(virtual) :]
        raise OutsideWorkspaceError(f"{path[:200]} is outside the workspace.")

    def uri_to_host(self, uri: str) -> str:
        if not uri.startswith("file:///"):
            raise OutsideWorkspaceError(f"{uri[:200]} is not a file:///workspace/... URI.")
        path, separator, fragment = uri[len("file://") :].partition("#")
        host = self.path_to_host(unquote(path))
        return "file://" + quote(host) + separator + fragment
