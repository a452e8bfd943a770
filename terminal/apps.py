from django.apps import AppConfig


class TerminalConfig(AppConfig):
    """Terminals (PTY sessions over WebSockets) and the workspace runner."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "terminal"

    def ready(self):
        from django.db.models.signals import post_delete

        from terminal import metrics  # noqa: F401 - exported from start-up, before the first terminal
        from workspaces.models import Workspace

        post_delete.connect(_close_terminals_of_deleted_workspace, sender=Workspace, dispatch_uid="terminal-close")


def _close_terminals_of_deleted_workspace(sender, instance, **kwargs):
    from django.db import transaction

    from terminal.manager import get_terminal_manager

    workspace_id = instance.pk
    # Only once the deletion is committed; a no-op in processes without terminals (Celery workers).
    transaction.on_commit(lambda: get_terminal_manager().schedule_close_workspace(workspace_id))
