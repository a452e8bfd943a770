from django.apps import AppConfig


class WorkspacesConfig(AppConfig):
    name = "workspaces"

    def ready(self):
        from workspaces import (
            checks,  # noqa: F401 - registers the sandbox check
            signals,
        )

        signals.connect()
