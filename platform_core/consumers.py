from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from platform_core import json_limits, websocket_limits
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
    """A JSON consumer that answers a frame it cannot take with an error message and carries on.

    Binary frames, frames over the route's ``max_message_bytes``, text that is
    not JSON and JSON nested deeper than ``JSON_MAX_DEPTH`` get
    ``{"type": "error", "code": "invalid_message" | "too_large", "message"}``;
    Channels' own JSON consumer raised instead, which closed the socket with 1011.
    """

    max_message_bytes: int  # the route's limit, from platform_core/websocket_limits.py

    async def receive(self, text_data=None, bytes_data=None, **kwargs):
        if text_data is None:
            await self.reject_frame("invalid_message", "Binary frames are not part of this protocol; send JSON text.")
            return
        if json_limits.utf8_size_exceeds(text_data, self.max_message_bytes):
            await self.reject_frame("too_large", f"Messages are limited to {self.max_message_bytes} bytes.")
            return
        try:
            content = json_limits.loads(text_data, max_depth=settings.JSON_MAX_DEPTH)
        except json_limits.JsonLimitError as error:
            await self.reject_frame("invalid_message", str(error))
            return
        except ValueError:
            await self.reject_frame("invalid_message", "Messages must be JSON.")
            return
        await self.receive_json(content, **kwargs)

    async def reject_frame(self, code: str, message: str) -> None:
        await self.send_json({"type": "error", "code": code, "message": message})


class PingConsumer(TolerantJsonConsumer):
    """A minimal authenticated WebSocket: proves routing, auth and origin checks end to end.

    Answers each ``{"type": "ping"}`` with a pong naming the signed-in user.
    """

    max_message_bytes = websocket_limits.PING_MESSAGE_BYTES

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
            await self.reject_frame("invalid_message", 'Send {"type": "ping"}.')
