import json

from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from platform_core.close_codes import FORBIDDEN


class DirectDispatchMixin:
    """For consumers whose sessions live in this process and take no messages from other processes.

    They use no channel layer, so Channels' per-socket layer subscription
    (with Redis, one blocking read per open socket) is skipped, and each frame
    is dispatched straight from ``receive``: Channels' loop waits on the socket
    and the layer together, through a new task and ``asyncio.wait`` for every
    frame, which costs each keystroke two more event-loop turns.
    """

    channel_layer_alias = "none"  # no such layer: get_channel_layer() answers None

    async def __call__(self, scope, receive, send):
        self.scope = scope
        self.channel_layer = None
        self.base_send = send
        try:
            while True:
                await self.dispatch(await receive())
        except StopConsumer:
            pass


class TolerantJsonConsumer(AsyncJsonWebsocketConsumer):
    """A JSON consumer for which a frame that is not JSON arrives as None, not as an exception
    that would close the socket; subclasses answer it with an error message."""

    @classmethod
    async def decode_json(cls, text_data):
        try:
            return json.loads(text_data)
        except ValueError:
            return None


class PingConsumer(TolerantJsonConsumer):
    """A minimal authenticated WebSocket: proves routing, auth and origin checks end to end.

    Answers each ``{"type": "ping"}`` with a pong naming the signed-in user.
    """

    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=FORBIDDEN)
            return
        await self.accept()
        await self.send_json({"type": "hello", "user": user.get_username()})

    async def receive_json(self, content, **kwargs):
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json(
                {"type": "pong", "user": self.scope["user"].get_username(), "data": content.get("data")}
            )
        else:
            await self.send_json({"type": "error", "message": 'Send {"type": "ping"}.'})
