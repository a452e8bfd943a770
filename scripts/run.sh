#!/usr/bin/env bash
# Set up and run the platform on embedded defaults at http://127.0.0.1:8000:
# SQLite, in-memory channel layer, a Celery worker on the filesystem broker,
# a local Qdrant path and the local workspace runtime.
set -euo pipefail
cd "$(dirname "$0")/.."
# The first administrator's password goes to ensure_admin alone: no process
# that keeps running (serve, daphne, the worker, workspace shells) holds it.
admin_password=${DJANGO_SUPERUSER_PASSWORD-}
unset DJANGO_SUPERUSER_PASSWORD
scripts/setup.sh
export DEBUG=${DEBUG:-1}
.venv/bin/python manage.py migrate --noinput
DJANGO_SUPERUSER_PASSWORD=$admin_password .venv/bin/python manage.py ensure_admin
unset admin_password
exec .venv/bin/python manage.py serve --host "${HOST:-127.0.0.1}" --port "${PORT:-8000}"
