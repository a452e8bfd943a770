"""The authenticated WebSocket endpoint, through the real ASGI application."""

import pytest
from channels.testing import WebsocketCommunicator
from django.conf import settings as django_settings

from platform_core.asgi import application

pytestmark = pytest.mark.django_db(transaction=True)


def session_cookie(client, user) -> bytes:
    client.force_login(user)
    return f"{django_settings.SESSION_COOKIE_NAME}={client.cookies[django_settings.SESSION_COOKIE_NAME].value}".encode()


def connect(cookie: bytes | None, origin: bytes = b"http://127.0.0.1:8000"):
    headers = [(b"origin", origin), (b"host", b"127.0.0.1:8000")]
    if cookie:
        headers.append((b"cookie", cookie))
    return WebsocketCommunicator(application, "/ws/ping/", headers=headers)


async def test_it_greets_and_answers_a_signed_in_user(client, personas):
    from asgiref.sync import sync_to_async

    cookie = await sync_to_async(session_cookie)(client, personas.editor)
    communicator = connect(cookie)

    connected, _ = await communicator.connect()
    hello = await communicator.receive_json_from()
    await communicator.send_json_to({"type": "ping", "data": 7})
    pong = await communicator.receive_json_from()
    await communicator.send_to(text_data="not json")
    error = await communicator.receive_json_from()
    await communicator.disconnect()

    assert connected
    assert hello == {"type": "hello", "user": "eddie"}
    assert pong == {"type": "pong", "user": "eddie", "data": 7}
    assert error["type"] == "error"


async def test_it_refuses_anonymous_connections_before_accepting():
    communicator = connect(None)

    connected, code = await communicator.connect()

    assert not connected
    await communicator.disconnect()


async def test_it_refuses_foreign_origins(client, personas):
    from asgiref.sync import sync_to_async

    cookie = await sync_to_async(session_cookie)(client, personas.editor)
    communicator = connect(cookie, origin=b"http://evil.example")

    connected, _ = await communicator.connect()

    assert not connected
    await communicator.disconnect()


@pytest.mark.skipif(
    "channels_redis" not in django_settings.CHANNEL_LAYERS["default"]["BACKEND"],
    reason="needs the Redis channel layer (set REDIS_URL)",
)
async def test_an_idle_connection_outlives_the_redis_layers_blocking_read(client, personas):
    from asgiref.sync import sync_to_async
    from channels.layers import get_channel_layer

    cookie = await sync_to_async(session_cookie)(client, personas.editor)
    communicator = connect(cookie)
    await communicator.connect()
    await communicator.receive_json_from()

    # Silence longer than one BZPOPMIN block: the consumer must still be there.
    quiet = await communicator.receive_nothing(timeout=get_channel_layer().brpop_timeout + 1.5)
    await communicator.send_json_to({"type": "ping", "data": 1})
    pong = await communicator.receive_json_from()
    await communicator.disconnect()

    assert quiet
    assert pong["type"] == "pong"
