from django.apps import AppConfig


class PlatformCoreConfig(AppConfig):
    name = "platform_core"
    verbose_name = "Platform"

    def ready(self):
        from platform_core import metrics, signals

        signals.connect()
        metrics.register()
        _prepare_embedded_broker()


def _prepare_embedded_broker() -> None:
    # kombu's filesystem transport expects its folders to exist, in the web
    # process (which publishes) as much as in the worker (which consumes).
    from pathlib import Path

    from django.conf import settings

    from platform_core import embedded_broker

    if embedded_broker.in_use():
        for key in ("data_folder_in", "data_folder_out", "control_folder", "processed_folder"):
            Path(settings.CELERY_BROKER_TRANSPORT_OPTIONS[key]).mkdir(parents=True, exist_ok=True)
