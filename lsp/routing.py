"""WebSocket routes of language servers (included by platform_core.routing)."""

from django.urls import path

from lsp.consumers import LanguageServerConsumer

websocket_urlpatterns = [
    path("ws/workspaces/<int:workspace_id>/lsp/<str:server>/", LanguageServerConsumer.as_asgi()),
]
