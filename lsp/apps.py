from django.apps import AppConfig


class LspConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "lsp"
