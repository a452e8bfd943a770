"""The WebSocket Origin rule: scheme, host and port of an allowed origin, through the real ASGI app.

Each case signs a user in and opens /ws/ping/, so a refusal is the origin check's doing and not
the consumer's; the last tests make the handshake against a real daphne to see the HTTP 403.
"""

import socket
from urllib.parse import urlsplit

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings as django_settings

from platform_core.asgi import application

pytestmark = pytest.mark.django_db(transaction=True)

SITE = "127.0.0.1:8000"


def session_cookie(client, user) -> str:
    client.force_login(user)
    return f"{django_settings.SESSION_COOKIE_NAME}={client.cookies[django_settings.SESSION_COOKIE_NAME].value}"


@pytest.fixture
async def signed_in_cookie(client, personas) -> str:
    return await sync_to_async(session_cookie)(client, personas.editor)


async def handshake(cookie: str, *, origins: list[str], host: str = SITE, scheme: str = "ws", extra=()) -> bool:
    """Whether /ws/ping/ accepts a signed-in user's handshake with these Origin headers."""
    headers = [(b"host", host.encode()), (b"cookie", cookie.encode()), *extra]
    headers += [(b"origin", origin.encode()) for origin in origins]
    communicator = WebsocketCommunicator(application, "/ws/ping/", headers=headers)
    communicator.scope["scheme"] = scheme
    connected, _ = await communicator.connect()
    if connected:
        hello = await communicator.receive_json_from()
        assert hello["type"] == "hello"
    await communicator.disconnect()
    return connected


@pytest.mark.parametrize(
    ("origin", "host", "accepted"),
    [
        pytest.param("http://127.0.0.1:8000", SITE, True, id="the site's own origin"),
        pytest.param("HTTP://127.0.0.1:8000", SITE, True, id="scheme in capitals"),
        pytest.param("http://127.0.0.1:9000", SITE, False, id="another port of the same host"),
        pytest.param("http://127.0.0.1", SITE, False, id="the default port of the same host"),
        pytest.param("https://127.0.0.1:8000", SITE, False, id="https where the site is http"),
        pytest.param("http://localhost:8000", SITE, False, id="another allowed host name"),
        pytest.param("http://evil.example:8000", SITE, False, id="another host"),
        pytest.param("null", SITE, False, id="null"),
        pytest.param("", SITE, False, id="empty"),
        pytest.param("http://127.0.0.1:8000/", SITE, False, id="with a path"),
        pytest.param("http://user@127.0.0.1:8000", SITE, False, id="with credentials"),
        pytest.param("ws://127.0.0.1:8000", SITE, False, id="a ws scheme"),
        pytest.param("http://127.0.0.1:80000", SITE, False, id="a port out of range"),
        pytest.param("http://localhost", "localhost", True, id="default port on both sides"),
        pytest.param("http://localhost:80", "localhost", True, id="default port spelled out"),
        pytest.param("http://[::1]:8000", "[::1]:8000", True, id="IPv6 host"),
        pytest.param("http://[::1]:9000", "[::1]:8000", False, id="IPv6 host, another port"),
        pytest.param("http://[::2]:8000", "[::1]:8000", False, id="another IPv6 host"),
        pytest.param("http://evil.example:8000", "evil.example:8000", False, id="Host not in ALLOWED_HOSTS"),
    ],
)
async def test_it_accepts_only_the_exact_origin(signed_in_cookie, origin, host, accepted):
    assert await handshake(signed_in_cookie, origins=[origin], host=host) is accepted


async def test_it_refuses_a_handshake_without_origin(signed_in_cookie):
    assert not await handshake(signed_in_cookie, origins=[])


async def test_it_refuses_a_handshake_with_two_origins(signed_in_cookie):
    assert not await handshake(signed_in_cookie, origins=["http://127.0.0.1:8000", "http://127.0.0.1:8000"])


async def test_it_takes_https_from_a_wss_handshake(signed_in_cookie):
    assert await handshake(signed_in_cookie, origins=["https://127.0.0.1:8000"], scheme="wss")
    assert not await handshake(signed_in_cookie, origins=["http://127.0.0.1:8000"], scheme="wss")


async def test_it_takes_the_scheme_from_the_tls_proxy_when_told_to(signed_in_cookie, settings):
    settings.ALLOWED_HOSTS = ["ide.example.test"]
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    proxied = [(b"x-forwarded-proto", b"https")]

    async def through_proxy(origin, extra=proxied):
        return await handshake(signed_in_cookie, origins=[origin], host="ide.example.test", extra=extra)

    assert await through_proxy("https://ide.example.test")
    assert not await through_proxy("http://ide.example.test")
    # Without the proxy's header the handshake is what it is: plain ws.
    assert not await through_proxy("https://ide.example.test", extra=())


async def test_it_ignores_a_forwarded_scheme_without_a_tls_proxy(signed_in_cookie, settings):
    settings.SECURE_PROXY_SSL_HEADER = None
    forged = [(b"x-forwarded-proto", b"https")]

    assert not await handshake(signed_in_cookie, origins=["https://127.0.0.1:8000"], extra=forged)


async def test_it_accepts_csrf_trusted_origins_exactly(signed_in_cookie, settings):
    settings.CSRF_TRUSTED_ORIGINS = ["https://ide.example.test", "https://*.apps.example.test"]

    assert await handshake(signed_in_cookie, origins=["https://ide.example.test"])
    assert await handshake(signed_in_cookie, origins=["https://team.apps.example.test"])
    assert not await handshake(signed_in_cookie, origins=["http://ide.example.test"])
    assert not await handshake(signed_in_cookie, origins=["https://ide.example.test:8443"])
    assert not await handshake(signed_in_cookie, origins=["https://team.apps.example.test:8443"])
    assert not await handshake(signed_in_cookie, origins=["https://evil.example.test"])


async def test_it_accepts_websocket_allowed_origins(signed_in_cookie, settings):
    settings.WEBSOCKET_ALLOWED_ORIGINS = ["http://127.0.0.1:3000"]

    assert await handshake(signed_in_cookie, origins=["http://127.0.0.1:3000"])
    assert not await handshake(signed_in_cookie, origins=["http://127.0.0.1:3001"])


def raw_handshake(base_url: str, path: str, headers: dict[str, str]) -> str:
    """The status line daphne answers to a WebSocket upgrade request."""
    parts = urlsplit(base_url)
    lines = [
        f"GET {path} HTTP/1.1",
        f"Host: {parts.netloc}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version: 13",
        *(f"{name}: {value}" for name, value in headers.items()),
    ]
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as connection:
        connection.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        return connection.makefile("rb").readline().decode().strip()


def test_daphne_answers_403_to_another_port_and_101_to_the_site(client, personas, platform_server):
    cookie = session_cookie(client, personas.editor)
    site = platform_server.base_url
    other_port = f"http://127.0.0.1:{urlsplit(site).port + 1}"

    refused = raw_handshake(site, "/ws/ping/", {"Origin": other_port, "Cookie": cookie})
    missing = raw_handshake(site, "/ws/ping/", {"Cookie": cookie})
    accepted = raw_handshake(site, "/ws/ping/", {"Origin": site, "Cookie": cookie})

    assert refused.startswith("HTTP/1.1 403"), refused
    assert missing.startswith("HTTP/1.1 403"), missing
    assert accepted.startswith("HTTP/1.1 101"), accepted
    platform_server.wait_for_line("websocket_origin_refused", other_port)


@pytest.mark.parametrize("value", ["https://ide.example.test/", "ide.example.test", "https://ide.*.test", "null"])
def test_it_refuses_to_start_with_an_origin_setting_that_could_never_match(monkeypatch, value):
    from django.core.exceptions import ImproperlyConfigured

    from platform_core.env import env_origins

    monkeypatch.setenv("WEBSOCKET_ALLOWED_ORIGINS", f"http://127.0.0.1:3000,{value}")

    with pytest.raises(ImproperlyConfigured, match="is not an origin"):
        env_origins("WEBSOCKET_ALLOWED_ORIGINS", [])
