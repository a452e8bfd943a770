"""WebSocket close codes shared by every consumer (documented in docs/protocols.md)."""

RESTART = 4001  # the session restarted or was replaced: reconnect
FORBIDDEN = 4003  # not signed in, or no right to this resource
NOT_FOUND = 4004  # no such workspace / session
LIMIT_REACHED = 4008  # too many sessions
REPLACED = 4009  # a newer connection of the same user took the session over
FAILED = 4011  # the session gave up (for example a language server that keeps crashing)
