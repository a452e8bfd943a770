"""Every WebSocket route of the platform; apps add theirs here as they arrive."""

from django.urls import path

from platform_core import consumers
from terminal.routing import websocket_urlpatterns as terminal_routes

websocket_urlpatterns = [
    path("ws/ping/", consumers.PingConsumer.as_asgi()),
    *terminal_routes,
]
