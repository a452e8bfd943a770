"""The Celery application. Workers start with ``celery -A platform_core worker``."""

import os

from celery import Celery
from celery.signals import setup_logging, worker_ready, worker_shutdown
from django_structlog.celery.steps import DjangoStructLogInitStep

from platform_core import embedded_broker

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "platform_core.settings")
embedded_broker.register()

app = Celery("platform_core")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# Binds the publishing request's id (and ip) into every task's log context.
app.steps["worker"].add(DjangoStructLogInitStep)


@setup_logging.connect
def use_django_logging(**kwargs):
    # Workers log JSON through Django's LOGGING, like the web process.
    from logging.config import dictConfig

    from django.conf import settings

    dictConfig(settings.LOGGING)


@worker_ready.connect
def start_job_sweeper(**kwargs):
    # Jobs lost with a worker that died (this one, before a restart, or
    # another) are failed now and then every JOB_SWEEP_INTERVAL_SECONDS.
    from platform_core import job_sweeper

    job_sweeper.start_in_worker()


@worker_shutdown.connect
def stop_job_sweeper(**kwargs):
    from platform_core import job_sweeper

    job_sweeper.stop_in_worker()
