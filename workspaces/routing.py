"""WebSocket routes of workspaces (included by platform_core.routing)."""

from django.urls import path

from workspaces.consumers import WorkspaceEventsConsumer

websocket_urlpatterns = [
    path("ws/workspaces/<int:workspace_id>/events/", WorkspaceEventsConsumer.as_asgi()),
]
