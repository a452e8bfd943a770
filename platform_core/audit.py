"""Writing audit log rows.

Service functions call ``record`` inside their transaction. Where the action
came from (ip, user agent, request id) is taken from the structlog context that
the request middleware binds, and that django-structlog carries into Celery
tasks, so callers never have to thread the request through.
"""

import re
from typing import Any

import structlog
from django.db import models

from platform_core.models import AuditLog

MASK = "********"
_SECRET_KEY_PATTERN = re.compile(r"pass|secret|token|key|credential|authorization", re.IGNORECASE)


def mask_secrets(values: dict[str, Any]) -> dict[str, Any]:
    """Replace the values of secret-looking keys, recursively."""
    masked: dict[str, Any] = {}
    for key, value in values.items():
        if _SECRET_KEY_PATTERN.search(str(key)):
            masked[key] = MASK
        elif isinstance(value, dict):
            masked[key] = mask_secrets(value)
        else:
            masked[key] = value
    return masked


def _describe_target(target: Any) -> tuple[str, str, str]:
    if target is None:
        return "", "", ""
    if isinstance(target, models.Model):
        return target._meta.model_name or "", str(target.pk), str(target)[:255]
    return type(target).__name__.lower(), "", str(target)[:255]


def record(
    actor,
    action: str,
    target: Any = None,
    *,
    workspace=None,
    changes: dict[str, tuple[Any, Any]] | None = None,
    metadata: dict[str, Any] | None = None,
    actor_username: str = "",
) -> AuditLog:
    """Write one audit row. ``changes`` maps field names to (old, new)."""
    context = structlog.contextvars.get_contextvars()
    target_type, target_id, target_label = _describe_target(target)
    if actor is not None and not getattr(actor, "is_authenticated", False):
        actor = None
    return AuditLog.objects.create(
        actor=actor,
        actor_username=actor.get_username() if actor is not None else actor_username,
        action=action,
        target_type=target_type,
        target_id=target_id,
        target_label=target_label,
        workspace_id=workspace.pk if workspace is not None else None,
        workspace_name=str(workspace.name) if workspace is not None else "",
        ip_address=context.get("ip") or None,
        user_agent=(context.get("user_agent") or "")[:512],
        request_id=context.get("request_id") or "",
        changes=mask_secrets({field: list(pair) for field, pair in (changes or {}).items()}),
        metadata=mask_secrets(metadata or {}),
    )
