"""WebSocket close codes shared by every consumer (documented in docs/protocols.md)."""

RESTART = 4001  # the session restarted or was replaced: reconnect
FORBIDDEN = 4003  # not signed in, or no right to this resource
NOT_FOUND = 4004  # no such workspace / session
LIMIT_REACHED = 4008  # too many sessions
