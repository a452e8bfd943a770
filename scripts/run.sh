#!/usr/bin/env bash
# Set up and run the platform on embedded defaults at http://127.0.0.1:8000:
# SQLite, in-memory channel layer, a Celery worker on the filesystem broker,
# a local Qdrant path and the local workspace runtime.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export DEBUG=${DEBUG:-1}
.venv/bin/python manage.py migrate --noinput
.venv/bin/python manage.py ensure_admin
exec .venv/bin/python manage.py serve --host "${HOST:-127.0.0.1}" --port "${PORT:-8000}"
