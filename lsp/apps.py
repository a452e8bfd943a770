from django.apps import AppConfig


class LspConfig(AppConfig):
    """Language servers (pyright, ruff) bridged to the browser over WebSockets."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "lsp"

    def ready(self):
        from django.db.models.signals import post_delete

        from lsp import metrics  # noqa: F401 - exported from start-up, before the first session
        from workspaces.models import Workspace

        post_delete.connect(_stop_servers_of_deleted_workspace, sender=Workspace, dispatch_uid="lsp-close")


def _stop_servers_of_deleted_workspace(sender, instance, **kwargs):
    from django.db import transaction

    from lsp.manager import get_language_server_manager

    workspace_id = instance.pk
    transaction.on_commit(lambda: get_language_server_manager().schedule_close_workspace(workspace_id))
