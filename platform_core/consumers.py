import json

from channels.generic.websocket import AsyncJsonWebsocketConsumer

from platform_core.close_codes import FORBIDDEN


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
