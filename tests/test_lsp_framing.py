"""Content-Length framing and path mapping: the pure parts of the language-server bridge."""

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lsp.framing import FramingError, MessageReader, frame
from lsp.paths import OutsideWorkspaceError, PathMapper
from lsp.sessions import _classify, backoff_delay

# Framing ---------------------------------------------------------------------------------------------


@given(
    bodies=st.lists(st.binary(min_size=0, max_size=300), min_size=1, max_size=6),
    cuts=st.lists(st.integers(min_value=1, max_value=50), min_size=1, max_size=40),
)
def test_messages_survive_any_split_of_the_stream(bodies, cuts):
    stream = b"".join(frame(body) for body in bodies)
    reader = MessageReader(max_body_bytes=1000)
    received, position, index = [], 0, 0
    while position < len(stream):
        size = cuts[index % len(cuts)]
        received += reader.feed(stream[position : position + size])
        position += size
        index += 1

    assert received == bodies


def test_it_accepts_other_headers_and_any_case():
    reader = MessageReader(max_body_bytes=100)

    bodies = reader.feed(b"content-length: 2\r\nContent-Type: application/vscode-jsonrpc\r\n\r\n{}")

    assert bodies == [b"{}"]


@pytest.mark.parametrize(
    "stream",
    [
        b"Content-Length: 1000\r\n\r\n",  # over the limit
        b"Content-Type: x\r\n\r\n{}",  # no length
        b"X" * 5000,  # no end of header
    ],
)
def test_it_rejects_broken_or_oversized_framing(stream):
    reader = MessageReader(max_body_bytes=100)

    with pytest.raises(FramingError):
        reader.feed(stream)


# Paths -------------------------------------------------------------------------------------------------

MAPPER = PathMapper([("/srv/data/ws 3", "/workspace"), ("/usr/lib/python3.11", "/python")])


def test_client_uris_become_host_uris_and_contents_stay():
    message = {
        "textDocument": {"uri": "file:///workspace/pkg/a%20b.py", "text": "file:///workspace/x"},
        "rootUri": "file:///workspace",
        "rootPath": "/workspace",
        "workspaceFolders": [{"uri": "file:///workspace", "name": "w"}],
    }

    mapped = MAPPER.to_server(message)

    assert mapped["textDocument"] == {"uri": "file:///srv/data/ws%203/pkg/a%20b.py", "text": "file:///workspace/x"}
    assert mapped["rootUri"] == "file:///srv/data/ws%203"
    assert mapped["rootPath"] == "/srv/data/ws 3"
    assert mapped["workspaceFolders"][0]["uri"] == "file:///srv/data/ws%203"


@pytest.mark.parametrize(
    "uri",
    [
        "file:///etc/passwd",
        "file:///workspace/../etc/passwd",
        "file:///workspace/%2e%2e/etc/passwd",
        "file:///workspacex/a.py",
        "http://example.com/a.py",
        "untitled:Untitled-1",
    ],
)
def test_client_uris_outside_the_roots_are_refused(uri):
    with pytest.raises(OutsideWorkspaceError):
        MAPPER.to_server({"textDocument": {"uri": uri}})


def test_server_messages_lose_every_host_root():
    body = b'{"uri":"file:///srv/data/ws%203/a.py","message":"in /srv/data/ws 3/a.py, see /usr/lib/python3.11/os.py"}'

    mapped = MAPPER.to_client(body)

    assert mapped == b'{"uri":"file:///workspace/a.py","message":"in /workspace/a.py, see /python/os.py"}'


# Classifying server messages without parsing them --------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ({"jsonrpc": "2.0", "id": "2:7", "result": {"x": {"method": "no"}}}, ("response", None, b'"2:7"')),
        (
            {"jsonrpc": "2.0", "id": 4, "method": "workspace/configuration", "params": {}},
            ("request", "workspace/configuration", b"4"),
        ),
        (
            {"jsonrpc": "2.0", "method": "textDocument/publishDiagnostics", "params": {}},
            ("notification", "textDocument/publishDiagnostics", None),
        ),
        ({"id": 5, "jsonrpc": "2.0", "error": {"code": 1, "message": "m"}}, ("response", None, b"5")),  # other order
        ({"params": {}, "method": "window/logMessage", "jsonrpc": "2.0"}, ("notification", "window/logMessage", None)),
    ],
)
def test_it_classifies_server_messages(message, expected):
    kind, method, raw_id, _ = _classify(json.dumps(message, separators=(",", ":")).encode())

    assert (kind, method, raw_id) == expected


# Backoff ---------------------------------------------------------------------------------------------------


def test_backoff_doubles_up_to_the_cap_with_jitter():
    import random

    rng = random.Random(7)
    delays = [backoff_delay(attempt, 0.5, 4.0, rng) for attempt in range(1, 7)]
    ceilings = [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]

    assert all(ceiling / 2 <= delay <= ceiling for delay, ceiling in zip(delays, ceilings, strict=True))
    assert len(set(delays)) == len(delays)  # jittered, not a fixed schedule
