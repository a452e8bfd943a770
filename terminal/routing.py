"""WebSocket routes of terminals (included by platform_core.routing)."""

from django.urls import path

from terminal.consumers import TerminalConsumer
from terminal.runner_consumer import RunnerConsumer

websocket_urlpatterns = [
    path("ws/workspaces/<int:workspace_id>/terminals/<str:name>/", TerminalConsumer.as_asgi()),
    path("ws/workspaces/<int:workspace_id>/runner/", RunnerConsumer.as_asgi()),
]
