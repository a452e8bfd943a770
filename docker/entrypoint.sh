#!/bin/sh
# Entrypoint of the Devbench image: the first argument names the role.
#
#   web         apply migrations, create the first admin if asked, serve ASGI
#   worker      Celery worker on $CELERY_QUEUES (default,provision,index)
#   gpu-worker  Celery worker on the gpu queue, one task at a time
#   manage ...  python manage.py ...
#   anything else runs as given (e.g. `bash`, `celery -A platform_core beat`)
#
# Extra arguments after a role go to the program it starts, e.g.
# `worker --concurrency 4`. Every role ends in exec, so the program replaces
# this shell and receives the container's signals (tini forwards them).
set -eu

log() {
    printf 'entrypoint: %s\n' "$*" >&2
}

# Same spelling as the settings' env_bool, so one value means one thing.
is_true() {
    case "$(printf '%s' "${1:-}" | tr '[:upper:]' '[:lower:]')" in
        1 | true | yes | on) return 0 ;;
        *) return 1 ;;
    esac
}

# The first admin's password is handed to createsuperuser alone: the program
# this script execs (daphne, and every workspace process it starts; a worker)
# must not carry it. The container's own environment, which Docker gives
# PID 1, still does: prefer DJANGO_SUPERUSER_PASSWORD_FILE (Docker secrets).
admin_password="${DJANGO_SUPERUSER_PASSWORD:-}"
unset DJANGO_SUPERUSER_PASSWORD

create_superuser() {
    if [ -z "${DJANGO_SUPERUSER_USERNAME:-}" ]; then
        return 0
    fi
    # Docker secrets: the password may come from a file, like SECRET_KEY_FILE.
    if [ -z "$admin_password" ] && [ -n "${DJANGO_SUPERUSER_PASSWORD_FILE:-}" ]; then
        admin_password="$(cat "$DJANGO_SUPERUSER_PASSWORD_FILE")"
    fi
    if [ -z "$admin_password" ]; then
        log "DJANGO_SUPERUSER_USERNAME is set but DJANGO_SUPERUSER_PASSWORD is not; no admin created"
        return 0
    fi
    # createsuperuser has no "if missing" flag: it fails when the user exists,
    # which on every restart after the first is the expected outcome.
    if output="$(DJANGO_SUPERUSER_PASSWORD="$admin_password" python manage.py createsuperuser --noinput 2>&1)"; then
        log "created admin user ${DJANGO_SUPERUSER_USERNAME}"
        return 0
    fi
    case "$output" in
        *"already taken"* | *"already exists"*)
            log "admin user ${DJANGO_SUPERUSER_USERNAME} already exists"
            ;;
        *)
            printf '%s\n' "$output" >&2
            return 1
            ;;
    esac
}

role="${1:-web}"
if [ "$#" -gt 0 ]; then
    shift
fi

case "$role" in
    web)
        # With several web replicas, let one of them (or a one-off
        # `manage migrate`) migrate and set RUN_MIGRATIONS=0 on the others.
        if is_true "${RUN_MIGRATIONS:-1}"; then
            python manage.py migrate --noinput
        fi
        create_superuser
        # Behind a TLS proxy the client address is in X-Forwarded-For; the
        # audit log records it, so daphne must read it.
        if is_true "${BEHIND_TLS_PROXY:-0}"; then
            set -- --proxy-headers "$@"
        fi
        # Through the platform's launcher: daphne with the WebSocket message
        # limit of the settings (platform_core/daphne_server.py).
        exec python -m platform_core.daphne_server -b 0.0.0.0 -p 8000 "$@" platform_core.asgi:application
        ;;
    worker)
        exec celery -A platform_core worker \
            --queues "${CELERY_QUEUES:-default,provision,index}" \
            --loglevel "${CELERY_LOGLEVEL:-INFO}" \
            "$@"
        ;;
    gpu-worker)
        # One task at a time: a loaded model owns the GPU's memory.
        exec celery -A platform_core worker \
            --queues gpu \
            --concurrency 1 \
            --loglevel "${CELERY_LOGLEVEL:-INFO}" \
            "$@"
        ;;
    manage)
        exec python manage.py "$@"
        ;;
    *)
        exec "$role" "$@"
        ;;
esac
