"""Devbench settings: one module, configured by environment variables.

With nothing set (plus DEBUG=1) the platform runs on embedded defaults:
SQLite in WAL mode, the in-memory channel layer, a Celery broker on the local
filesystem, a local Qdrant path and the local workspace runtime. Production is
the same code with DATABASE_URL, REDIS_URL, QDRANT_URL and WORKSPACE_RUNTIME set.
"""

from datetime import timedelta
from pathlib import Path

import dj_database_url
import structlog
from django.core.exceptions import ImproperlyConfigured

from platform_core import websocket_limits
from platform_core.env import (
    env_bool,
    env_choice,
    env_int,
    env_list,
    env_origins,
    env_path,
    env_secret,
    env_str,
)

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = env_path("DATA_DIR", BASE_DIR / "var")

DEBUG = env_bool("DEBUG", False)
# `serve` refuses to bind a DEBUG server to anything but loopback unless this is on: DEBUG pages
# and the development key are for this machine (platform_core/management/commands/serve.py).
ALLOW_DEBUG_ON_NETWORK = env_bool("ALLOW_DEBUG_ON_NETWORK", False)

# A development key is only acceptable while DEBUG is on.
SECRET_KEY = env_secret("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY (or SECRET_KEY_FILE) must be set when DEBUG is off.")
    SECRET_KEY = "devbench-insecure-development-key-do-not-use-in-production"  # noqa: S105 - DEBUG only

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_origins("CSRF_TRUSTED_ORIGINS", [])
# WebSockets accept the site's own origin and CSRF_TRUSTED_ORIGINS (platform_core/websocket_origin.py);
# these origins may open sockets too, without being trusted to post forms.
WEBSOCKET_ALLOWED_ORIGINS = env_origins("WEBSOCKET_ALLOWED_ORIGINS", [])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "csp",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "guardian",
    "axes",
    "django_prometheus",
    "django_structlog",
    "platform_core",
    "workspaces",
    "terminal",
    "lsp",
    "ai",
    "rag",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # After WhiteNoise: static files need no policy; before the rest so error pages get one.
    "platform_core.middleware.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_structlog.middlewares.RequestMiddleware",
    "platform_core.middleware.RequestIdHeaderMiddleware",
    # Axes must come last so it sees the outcome of authentication.
    "axes.middleware.AxesMiddleware",
    # Sets the cookie that marks browsers a user signed in from (signin_protection.py).
    "platform_core.signin_protection.KnownDeviceMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "platform_core.urls"
ASGI_APPLICATION = "platform_core.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# Database -------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)}
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        DATABASES["default"]["ENGINE"] = "django_prometheus.db.backends.postgresql"
    elif DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
        DATABASES["default"]["ENGINE"] = "django_prometheus.db.backends.sqlite3"
else:
    DATABASES = {
        "default": {
            "ENGINE": "django_prometheus.db.backends.sqlite3",
            "NAME": env_path("SQLITE_PATH", DATA_DIR / "db.sqlite3"),
            # WAL lets the web process read while the Celery worker writes;
            # IMMEDIATE transactions avoid "database is locked" upgrade failures.
            "OPTIONS": {
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
            },
            # A file, not memory: the test suite's Celery worker and ASGI server
            # run in their own processes and must see the same database.
            "TEST": {"NAME": str(env_path("TEST_DATABASE_PATH", DATA_DIR / "test-db.sqlite3"))},
        }
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Auth -------------------------------------------------------------------------
AUTH_USER_MODEL = "platform_core.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
if env_bool("FAST_PASSWORD_HASHING", False):
    # Tests only: hashing with PBKDF2 would dominate the suite's run time.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "workspaces:list"
LOGOUT_REDIRECT_URL = "login"

# Failed sign-ins (django-axes; the rules and why are in platform_core/signin_protection.py):
# a (username, address) pair is refused after LOGIN_FAILURE_LIMIT failures, an address after
# LOGIN_IP_FAILURE_LIMIT failures across usernames, both for LOGIN_LOCKOUT_MINUTES; a username
# failing from many addresses is slowed down for browsers that never signed in to it.
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5, minimum=1)
LOGIN_IP_FAILURE_LIMIT = env_int("LOGIN_IP_FAILURE_LIMIT", 20, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOGIN_LOCKOUT_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_HANDLER = "platform_core.signin_protection.SignInProtectionHandler"
AXES_LOCKOUT_CALLABLE = "platform_core.signin_protection.lockout_response"
AXES_RESET_ON_SUCCESS = True  # clears only the pair that signed in
# Refused attempts do not count, so a lockout ends when the page said it would.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_ENABLE_ACCESS_FAILURE_LOG = True  # one row per failure: what the per-username rule counts
AXES_VERBOSE = False
ANONYMOUS_USER_NAME = None  # guardian: no anonymous object permissions

API_TOKEN_MAX_DAYS = env_int("API_TOKEN_MAX_DAYS", 365, minimum=1)

# Sessions, cookies and transport security ---------------------------------------------
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
# Health checks come over plain HTTP from inside the container or load balancer.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if env_bool("BEHIND_TLS_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
X_FRAME_OPTIONS = "DENY"

# Content-Security-Policy on every page (django-csp; platform_core.middleware adds the site's own
# ws:// or wss:// origin to connect-src). Scripts only from our own files: no inline script, no eval.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        # Monaco and xterm.js write <style> elements at run time (Monaco: its theme's token colours
        # and per-editor rules; xterm.js: its colour theme and cursor), which neither lets us give
        # a nonce; the Swagger UI page and the admin carry inline style attributes. Styles cannot
        # run code, so 'unsafe-inline' here costs far less than it would for scripts.
        "style-src": ["'self'", "'unsafe-inline'"],
        # Monaco's and the file tree's CSS draw a few icons from data: URLs, as does Swagger UI.
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        # Monaco's editor worker is a same-origin file (static/dist/editor.worker.js).
        "worker-src": ["'self'", "blob:"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# Request size: file contents travel as JSON, so the body limit sits just above
# the largest editable file.
FILES_MAX_BYTES = env_int("FILES_MAX_BYTES", 5 * 1024 * 1024, minimum=1024)
UPLOAD_MAX_BYTES = env_int("UPLOAD_MAX_BYTES", 50 * 1024 * 1024, minimum=1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = FILES_MAX_BYTES * 2 + 64 * 1024  # also the API's JSON body limit (413)
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
# JSON from clients (API bodies, WebSocket messages) nested deeper than this is
# refused before parsing (platform_core/json_limits.py): Python's parser
# recurses once per level, and nothing the platform takes needs a tenth of it.
JSON_MAX_DEPTH = env_int("JSON_MAX_DEPTH", 64, minimum=8)

# Internationalisation --------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# Static files: built from frontend/ into static/dist by the setup command.
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = env_path("STATIC_ROOT", BASE_DIR / "staticfiles")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
# In development WhiteNoise serves straight from the finders, so a rebuilt
# bundle shows up without collectstatic.
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG

# Channels ---------------------------------------------------------------------
REDIS_URL = env_str("REDIS_URL")
# The layer waits for messages with a blocking BZPOPMIN of 5 s. redis-py 8
# defaults the socket read timeout to 5 s too, so an idle consumer would fail
# with "Timeout reading" at the same moment; the read timeout has to outlast
# the block while still noticing a Redis that went away.
CHANNEL_REDIS_SOCKET_TIMEOUT = 15.0
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_timeout": CHANNEL_REDIS_SOCKET_TIMEOUT}]},
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
# Open WebSockets are re-checked when access changes (announced on the channel
# layer: across processes with Redis, within the web process without it) and,
# as a backstop for changes nobody announced (a management command without
# Redis, an expired session), every this many seconds (platform_core/access.py).
ACCESS_RECHECK_SECONDS = env_int("ACCESS_RECHECK_SECONDS", 30, minimum=1)

# WebSocket messages: daphne closes a socket with 1009 beyond this. Below it
# each route answers frames over its own limit (platform_core/websocket_limits.py)
# with a notice and carries on, so it must lie above every route's limit.
WEBSOCKET_MAX_MESSAGE_BYTES = env_int(
    "WEBSOCKET_MAX_MESSAGE_BYTES", websocket_limits.DEFAULT_SERVER_MAX_MESSAGE_BYTES, minimum=1
)
if WEBSOCKET_MAX_MESSAGE_BYTES <= websocket_limits.LARGEST_ROUTE_LIMIT:
    raise ImproperlyConfigured(
        f"WEBSOCKET_MAX_MESSAGE_BYTES must be above {websocket_limits.LARGEST_ROUTE_LIMIT}, the largest limit "
        "of a WebSocket route (docs/protocols.md), or frames a route would answer are cut off instead."
    )
# `manage.py runserver` (daphne's) reads these; everything else starts daphne
# through platform_core/daphne_server.py.
DAPHNE_WEBSOCKET_MAX_MESSAGE_SIZE = DAPHNE_WEBSOCKET_MAX_FRAME_SIZE = WEBSOCKET_MAX_MESSAGE_BYTES

# Celery -----------------------------------------------------------------------
# Without Redis the broker is kombu's filesystem transport (with an atomic-write
# fix, platform_core.embedded_broker): a real worker process consumes real
# messages, with nothing extra to install.
CELERY_BROKER_DIR = env_path("CELERY_BROKER_DIR", DATA_DIR / "celery-broker")
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {}  # visibility_timeout: below
else:
    CELERY_BROKER_URL = "devbench-fs://"  # platform_core.embedded_broker
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_BROKER_DIR / "queue"),
        "data_folder_out": str(CELERY_BROKER_DIR / "queue"),
        "control_folder": str(CELERY_BROKER_DIR / "control"),
        "processed_folder": str(CELERY_BROKER_DIR / "processed"),
        "store_processed": False,
    }
# Outcomes live in Job rows, not in a result backend.
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {
    "workspaces.tasks.*": {"queue": "provision"},
    "rag.tasks.*": {"queue": "index"},
}
# At most once unless a task says otherwise: a task that is safe to run twice
# opts in to acks_late and reject_on_worker_lost (workspaces/tasks.py says why
# each one is), so a worker that dies mid-task does not lose its message.
CELERY_TASK_ACKS_LATE = False
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Time limits, in seconds. At the soft limit the task gets an exception inside
# (its job fails with a message saying so); JOB_HARD_TIME_LIMIT_GRACE_SECONDS
# later the worker kills the process if it is still running. The prefork pool
# (the default, and serve's) enforces both.
JOB_HARD_TIME_LIMIT_GRACE_SECONDS = 30
JOB_TIME_LIMITS = {
    # Mostly creating the venv: seconds on a normal machine, minutes on a slow disk.
    "workspace.provision": env_int("PROVISION_TIME_LIMIT_SECONDS", 600, minimum=10),
}
# Every other task (moving a deleted workspace to the trash, ...).
CELERY_TASK_SOFT_TIME_LIMIT = env_int("TASK_TIME_LIMIT_SECONDS", 300, minimum=10)
CELERY_TASK_TIME_LIMIT = CELERY_TASK_SOFT_TIME_LIMIT + JOB_HARD_TIME_LIMIT_GRACE_SECONDS
CELERY_TASK_ANNOTATIONS = {
    "workspaces.tasks.provision_workspace": {
        "soft_time_limit": JOB_TIME_LIMITS["workspace.provision"],
        "time_limit": JOB_TIME_LIMITS["workspace.provision"] + JOB_HARD_TIME_LIMIT_GRACE_SECONDS,
    },
}
if REDIS_URL:
    # Redis hands an unacknowledged message to a worker again after this many
    # seconds (kombu's default is an hour). It must outlast every task's hard
    # time limit, or a task still running would start a second time elsewhere.
    CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"] = max(
        3600, max([*JOB_TIME_LIMITS.values(), CELERY_TASK_SOFT_TIME_LIMIT]) + JOB_HARD_TIME_LIMIT_GRACE_SECONDS + 300
    )
# The job sweeper (platform_core/job_sweeper.py), run by every worker at start
# and then every JOB_SWEEP_INTERVAL_SECONDS, and by `manage.py sweep_jobs`: it
# fails running jobs whose worker process is gone, or that showed no progress
# for longer than their hard time limit plus JOB_STALE_MARGIN_SECONDS, and jobs
# still queued after JOB_QUEUED_TIMEOUT_SECONDS (their message was lost).
JOB_SWEEP_INTERVAL_SECONDS = env_int("JOB_SWEEP_INTERVAL_SECONDS", 60, minimum=1)
JOB_STALE_MARGIN_SECONDS = env_int("JOB_STALE_MARGIN_SECONDS", 120, minimum=0)
JOB_QUEUED_TIMEOUT_SECONDS = env_int("JOB_QUEUED_TIMEOUT_SECONDS", 3600, minimum=60)
# A job is started at most this many times: each extra start means the worker
# running it died, and a task that kills its worker must not loop forever.
JOB_MAX_ATTEMPTS = env_int("JOB_MAX_ATTEMPTS", 3, minimum=1)
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_QUEUES = env_list("CELERY_QUEUES", ["default", "provision", "index"])

# Workspaces -------------------------------------------------------------------
WORKSPACE_RUNTIME = env_choice("WORKSPACE_RUNTIME", "local", ("local", "docker"))
WORKSPACES_ROOT = env_path("WORKSPACES_ROOT", DATA_DIR / "workspaces")
WORKSPACE_PYTHON = env_str("WORKSPACE_PYTHON", "")  # interpreter for new venvs; default: the platform's
# The local runtime's sandbox (workspaces/runtime/sandbox.py, docs/architecture.md "Isolation"):
# "auto" wraps every workspace process in bubblewrap when a probe run succeeds, "bubblewrap"
# insists on it (the platform refuses to start workspace processes without it), "off" never uses it.
WORKSPACE_SANDBOX = env_choice("WORKSPACE_SANDBOX", "auto", ("auto", "bubblewrap", "off"))
# Sandboxed processes share the host's network by default (pip install needs it); off gives
# them no network at all.
WORKSPACE_SANDBOX_NETWORK = env_bool("WORKSPACE_SANDBOX_NETWORK", True)
# With DEBUG off the platform refuses to start while workspace processes would run unsandboxed,
# unless this says that is accepted (a single trusted team, or isolation provided elsewhere).
WORKSPACE_ALLOW_UNSANDBOXED = env_bool("WORKSPACE_ALLOW_UNSANDBOXED", False)

# Terminals --------------------------------------------------------------------------
# Lifetime rules are described in terminal/manager.py and docs/protocols.md.
TERMINAL_REPLAY_BYTES = env_int("TERMINAL_REPLAY_BYTES", 256 * 1024, minimum=0)  # output kept for reconnects
TERMINAL_GRACE_SECONDS = env_int("TERMINAL_GRACE_SECONDS", 300, minimum=0)  # kept after the last client leaves
TERMINAL_IDLE_SECONDS = env_int("TERMINAL_IDLE_SECONDS", 3600, minimum=1)  # no I/O, shell at its prompt
TERMINAL_MAX_PER_USER = env_int("TERMINAL_MAX_PER_USER", 10, minimum=1)
TERMINAL_MAX_PER_WORKSPACE = env_int("TERMINAL_MAX_PER_WORKSPACE", 20, minimum=1)
# Flow control: pause the PTY while a client has more than HIGH bytes unacknowledged.
TERMINAL_FLOW_HIGH_BYTES = env_int("TERMINAL_FLOW_HIGH_BYTES", 256 * 1024, minimum=1024)
TERMINAL_FLOW_LOW_BYTES = env_int("TERMINAL_FLOW_LOW_BYTES", 32 * 1024, minimum=0)
TERMINAL_STUCK_CLIENT_SECONDS = env_int("TERMINAL_STUCK_CLIENT_SECONDS", 30, minimum=1)
if TERMINAL_FLOW_LOW_BYTES >= TERMINAL_FLOW_HIGH_BYTES:
    raise ImproperlyConfigured("TERMINAL_FLOW_LOW_BYTES must be below TERMINAL_FLOW_HIGH_BYTES.")

# Runner: a warm Python process per workspace, closed after this long unused.
RUNNER_IDLE_SECONDS = env_int("RUNNER_IDLE_SECONDS", 600, minimum=10)

# Language servers -------------------------------------------------------------------
# Commands are shell-style strings; empty means the bundled default (lsp/servers.py):
# basedpyright's language server for "pyright" (or pyright-langserver if configured), `ruff server`.
LSP_PYRIGHT_COMMAND = env_str("LSP_PYRIGHT_COMMAND")
LSP_RUFF_COMMAND = env_str("LSP_RUFF_COMMAND")
LSP_IDLE_TTL = env_int("LSP_IDLE_TTL", 600, minimum=1)  # seconds a server lives with no client
LSP_MAX_RESTARTS = env_int("LSP_MAX_RESTARTS", 5, minimum=0)  # crash restarts allowed per window...
LSP_RESTART_WINDOW = env_int("LSP_RESTART_WINDOW", 300, minimum=1)  # ...of this many seconds, then "failed"
LSP_BACKOFF_BASE_MS = env_int("LSP_BACKOFF_BASE_MS", 500, minimum=1)  # first restart delay, doubled each time
LSP_BACKOFF_MAX_MS = env_int("LSP_BACKOFF_MAX_MS", 30_000, minimum=1)
LSP_MAX_MESSAGE_BYTES = env_int("LSP_MAX_MESSAGE_BYTES", 16 * 1024 * 1024, minimum=1024)  # either direction
LSP_MAX_PER_USER = env_int("LSP_MAX_PER_USER", 8, minimum=1)  # sessions across workspaces
LSP_FRAME_LOG_SIZE = env_int("LSP_FRAME_LOG_SIZE", 200, minimum=0)  # frame metadata kept per session
LSP_TRACE_PAYLOADS = env_bool("LSP_TRACE_PAYLOADS", False)  # development only: keep message bodies too
LSP_STDERR_MAX_BYTES = env_int("LSP_STDERR_MAX_BYTES", 1024 * 1024, minimum=1024)  # per file, 3 kept
LSP_LOG_DIR = env_path("LSP_LOG_DIR", DATA_DIR / "lsp-logs")

# Editor: files larger than EDITOR_LSP_MAX_BYTES open without language servers
# (didOpen sends a whole file, JSON-escaped, in one message), larger than
# EDITOR_EDIT_MAX_BYTES read-only. The page reads both (templates/workspaces/ide.html).
EDITOR_LSP_MAX_BYTES = env_int("EDITOR_LSP_MAX_BYTES", 1024 * 1024, minimum=0)
EDITOR_EDIT_MAX_BYTES = env_int("EDITOR_EDIT_MAX_BYTES", 2 * 1024 * 1024, minimum=0)
if EDITOR_LSP_MAX_BYTES > websocket_limits.LSP_MESSAGE_BYTES // 2:
    raise ImproperlyConfigured(
        f"EDITOR_LSP_MAX_BYTES must be at most {websocket_limits.LSP_MESSAGE_BYTES // 2}: escaping can double "
        "a file's size in the message that opens it, which must stay within the language-server message limit."
    )

# Quick open and search across files (workspaces/search.py): ripgrep runs in the
# workspace's sandbox. The file list for quick open stops at FILES_LIST_MAX_FILES
# (and says it was cut short); a search stops after SEARCH_TIMEOUT_SECONDS with the
# matches found so far, returns at most SEARCH_MAX_RESULTS matches, and skips files
# larger than SEARCH_MAX_FILE_BYTES (minified bundles, data dumps).
FILES_LIST_MAX_FILES = env_int("FILES_LIST_MAX_FILES", 20_000, minimum=1)
SEARCH_TIMEOUT_SECONDS = env_int("SEARCH_TIMEOUT_SECONDS", 10, minimum=1)
SEARCH_MAX_RESULTS = env_int("SEARCH_MAX_RESULTS", 2000, minimum=1)
SEARCH_MAX_FILE_BYTES = env_int("SEARCH_MAX_FILE_BYTES", 1024 * 1024, minimum=1024)

# IDE file events (workspaces/tree_watcher.py): open IDE pages follow the workspace's files through
# inotify, one watch per folder. Beyond this many folders in one workspace the rest are not
# followed live (the page says so; Refresh still works). The kernel's own limit,
# fs.inotify.max_user_watches, is shared by every workspace of the platform's user.
FILE_WATCH_MAX_DIRECTORIES = env_int("FILE_WATCH_MAX_DIRECTORIES", 10_000, minimum=1)

# Qdrant -------------------------------------------------------------------------
QDRANT_URL = env_str("QDRANT_URL")
QDRANT_PATH = env_path("QDRANT_PATH", DATA_DIR / "qdrant")

# REST API ---------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "platform_core.api.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "platform_core.api.pagination.StandardPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.SearchFilter",
        "rest_framework.filters.OrderingFilter",
    ],
    # JSON bodies only, as the schema documents; the upload endpoint declares
    # multipart itself. Form bodies could not carry the nulls and lists of ours.
    # The parser checks depth and size before json.loads (platform_core/json_limits.py).
    "DEFAULT_PARSER_CLASSES": ["platform_core.api.parsers.LimitedJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "EXCEPTION_HANDLER": "platform_core.api.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "platform_core.api.schema.ApiAutoSchema",
    "DEFAULT_THROTTLE_RATES": {"user": env_str("API_RATE_LIMIT", "6000/hour")},
    "DEFAULT_THROTTLE_CLASSES": ["rest_framework.throttling.UserRateThrottle"],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Devbench API",
    "DESCRIPTION": "Workspaces, members, files, tokens and audit log of a Devbench installation.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Our PATCH views validate their whole (one- or two-field) body: nothing in it is optional.
    "COMPONENT_SPLIT_PATCH": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
}

# Cache: throttling and lockouts need one; local memory is enough for one process.
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Metrics ------------------------------------------------------------------------
# /metrics answers staff sessions, or scrapers sending "Authorization: Bearer <METRICS_TOKEN>".
METRICS_TOKEN = env_secret("METRICS_TOKEN")
PROMETHEUS_EXPORT_MIGRATIONS = False

# Logging: JSON lines on stderr, with the request id bound by django-structlog ---------
LOG_LEVEL = env_choice("LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR"))
DJANGO_STRUCTLOG_CELERY_ENABLED = True
DJANGO_STRUCTLOG_TRUST_UPSTREAM_REQUEST_ID = env_bool("TRUST_UPSTREAM_REQUEST_ID", False)
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {
            "()": structlog.stdlib.ProcessorFormatter,
            "processor": structlog.processors.JSONRenderer(),
            "foreign_pre_chain": [
                structlog.contextvars.merge_contextvars,
                structlog.processors.TimeStamper(fmt="iso"),
                structlog.stdlib.add_logger_name,
                structlog.stdlib.add_log_level,
            ],
        },
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "json"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        "daphne": {"level": "WARNING"},
    },
}
structlog.configure(
    processors=[
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.filter_by_level,
        structlog.processors.TimeStamper(fmt="iso"),
        structlog.stdlib.add_logger_name,
        structlog.stdlib.add_log_level,
        structlog.processors.StackInfoRenderer(),
        structlog.processors.format_exc_info,
        structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
    ],
    logger_factory=structlog.stdlib.LoggerFactory(),
    cache_logger_on_first_use=True,
)
