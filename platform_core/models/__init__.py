from platform_core.models.audit import AuditLog
from platform_core.models.jobs import Job
from platform_core.models.tokens import ApiToken
from platform_core.models.users import User

__all__ = ["ApiToken", "AuditLog", "Job", "User"]
