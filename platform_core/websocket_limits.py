"""How large a WebSocket message may be, per route: the one table (docs/protocols.md, "Message sizes").

Two layers enforce it. daphne (Autobahn underneath) refuses any message over
``settings.WEBSOCKET_MAX_MESSAGE_BYTES`` by closing the socket with 1009
(platform_core/daphne_server.py). Below that, each consumer checks its route's
limit from this table and answers a larger frame with the route's notice while
the session carries on. The server's limit therefore has to lie above every
route's, which the settings check at start-up; a test compares this table
with the documentation.
"""

KIB = 1024
MIB = 1024 * KIB

TERMINAL_INPUT_BYTES = 1 * MIB  # binary frame: bytes for the shell's stdin (a paste)
TERMINAL_CONTROL_BYTES = 64 * KIB  # text frame: one JSON control message
RUNNER_MESSAGE_BYTES = 4 * MIB  # a run request carries up to 1,000,000 characters of code
LSP_MESSAGE_BYTES = 4 * MIB  # one JSON-RPC message: didOpen carries a whole file
PING_MESSAGE_BYTES = 64 * KIB
EVENTS_MESSAGE_BYTES = 64 * KIB  # the IDE only pings the events socket; as small as any route

# (route, frame) -> limit, in the order of docs/protocols.md.
ROUTE_LIMITS = {
    ("/ws/ping/", "text"): PING_MESSAGE_BYTES,
    ("/ws/workspaces/<id>/terminals/<name>/", "binary"): TERMINAL_INPUT_BYTES,
    ("/ws/workspaces/<id>/terminals/<name>/", "text"): TERMINAL_CONTROL_BYTES,
    ("/ws/workspaces/<id>/runner/", "text"): RUNNER_MESSAGE_BYTES,
    ("/ws/workspaces/<id>/lsp/<server>/", "text"): LSP_MESSAGE_BYTES,
    ("/ws/workspaces/<id>/events/", "text"): EVENTS_MESSAGE_BYTES,
}
LARGEST_ROUTE_LIMIT = max(ROUTE_LIMITS.values())

# Twice the largest route limit: a frame well over its route's limit still
# reaches the consumer, which answers it; only grossly oversized ones are cut
# off by the server.
DEFAULT_SERVER_MAX_MESSAGE_BYTES = 2 * LARGEST_ROUTE_LIMIT

MESSAGE_TOO_BIG = 1009  # RFC 6455 close code: daphne's answer to a message over the server's limit
