"""Every WebSocket route of the platform; apps add theirs here as they arrive."""

from django.urls import path

from lsp.routing import websocket_urlpatterns as lsp_routes
from platform_core import consumers
from terminal.routing import websocket_urlpatterns as terminal_routes
from workspaces.routing import websocket_urlpatterns as workspace_routes

websocket_urlpatterns = [
    path("ws/ping/", consumers.PingConsumer.as_asgi()),
    *terminal_routes,
    *lsp_routes,
    *workspace_routes,
]
