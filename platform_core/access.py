"""Access re-checks for open WebSockets (docs/protocols.md, "Access re-checks").

A WebSocket is authorized once, at connect, but what its user may do can
change while it stays open for hours: a membership is removed, a role
lowered, an account deactivated, the browser signs out, the password changes,
a token is revoked. Each process keeps one ``AccessWatcher`` holding its live
sockets (user, browser session, workspace, kind, current level) and:

- **one listener per process** on the channel-layer group ``devbench.access``.
  Changes are announced there (``announce_access_change``, after the
  transaction commits), so with Redis every process hears of a change made in
  any other; with the in-memory layer, the web process hears its own (the
  admin, the API and sign-out run there). The consumers keep using no channel
  layer per socket (platform_core.consumers.DirectDispatchMixin says why).
- **a backstop**: every ``ACCESS_RECHECK_SECONDS`` every socket is re-checked,
  which catches what nobody announced (a management command without Redis, a
  direct database edit, a session or token that expired).

A re-check re-runs the real checks in a database thread: the browser session
still signs this user in (not signed out, password unchanged), the user is
active, the API token (if the socket used one) is active, and then the
socket's own ``rights`` function, the same check its consumer made at
connect. When the level differs from the socket's, its ``apply`` callback
closes the socket (no access left) or changes what it may do.
"""

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from importlib import import_module
from typing import Any

import structlog
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import transaction
from prometheus_client import Counter

from platform_core.background import BackgroundTasks
from platform_core.per_process import PerProcess

logger = structlog.get_logger(__name__)

GROUP = "devbench.access"
MESSAGE_TYPE = "access.changed"
SIGNED_OUT = "signed_out"  # the reason that closes a session's sockets without asking the database
# The first socket of a process waits this long for the listener to subscribe;
# a channel layer that does not answer leaves the backstop to do the work.
SUBSCRIBE_TIMEOUT_SECONDS = 2.0
# A password change gives the browser that made it a new session key; sockets
# opened under the old key follow it through the cache for this long.
RENAMED_SESSION_SECONDS = 3600
MAX_SESSION_RENAMES = 5
MATCH_FIELDS = ("user_id", "workspace_id", "session_key", "token_id")

# Why a socket lost or changed access, as the person reads it.
REASON_SIGNED_OUT = "You signed out."
REASON_SESSION_ENDED = "Your sign-in session ended."
REASON_PASSWORD_CHANGED = "Your password was changed, which signs out your other sessions."  # noqa: S105 - a message
REASON_DEACTIVATED = "Your account was deactivated."
REASON_DELETED = "Your account was deleted."
REASON_TOKEN_REVOKED = "The API token of this connection was revoked or has expired."  # noqa: S105 - a message
REASON_NO_ACCESS = "You no longer have access to this workspace."
REASON_ROLE_CHANGED = "Your role in this workspace changed."

ACCESS_CHANGES = Counter(
    "devbench_websocket_access_changes",
    "Open WebSockets whose access changed, by kind (terminal, runner, lsp) and new level (none: closed).",
    labelnames=["kind", "level"],
)


@dataclass(eq=False)
class LiveSocket:
    """One open WebSocket whose access is re-checked while it stays open.

    ``rights(user)`` runs in a database thread with the user as the database
    has them now and answers the level they hold (None: no access), by the
    same check the consumer made at connect. ``apply(level, reason)`` runs on
    the event loop when the level changed: the consumer closes the socket
    (None) or changes what it may do. ``token_id`` is set by sockets
    authenticated with an API token (none are today: WebSockets authenticate
    with the browser session only), so revoking the token closes them.
    """

    kind: str
    user_id: int
    session_key: str | None
    workspace_id: int | None
    level: str | None
    rights: Callable[[Any], str | None]
    apply: Callable[[str | None, str], Awaitable[None]]
    token_id: int | None = None

    @classmethod
    def for_scope(cls, scope, **fields) -> "LiveSocket":
        """A socket of the user and browser session of an ASGI ``scope`` (a token socket sets ``api_token_id``)."""
        session = scope.get("session")
        return cls(
            user_id=scope["user"].pk,
            session_key=getattr(session, "session_key", None) if session is not None else None,
            token_id=scope.get("api_token_id"),
            **fields,
        )

    def matches(self, change: dict) -> bool:
        """Whether a change names this socket: every field the change gives must be this socket's."""
        return all(change.get(name) is None or change[name] == getattr(self, name) for name in MATCH_FIELDS)


# Announcing changes (any process, sync code) ----------------------------------------------


def announce_access_change(
    reason: str,
    *,
    user_id: int | None = None,
    workspace_id: int | None = None,
    session_key: str | None = None,
    token_id: int | None = None,
) -> None:
    """Tell every process's watcher to re-check the sockets a change names, once the transaction commits.

    Fields left out match every socket; ``reason`` names the change in logs.
    A failure to publish is logged, never raised: the change itself is
    committed, and the backstop re-check catches it later.
    """
    message = {
        "type": MESSAGE_TYPE,
        "reason": reason,
        "user_id": user_id,
        "workspace_id": workspace_id,
        "session_key": session_key,
        "token_id": token_id,
    }
    transaction.on_commit(lambda: _publish(message))


def announce_signed_out(session_key: str, user_id: int) -> None:
    """The browser session ``session_key`` signed out: its sockets close without a database check.

    Django sends ``user_logged_out`` before it deletes the session, so a
    re-check could still find it; the sign-out itself is the verdict.
    """
    announce_access_change(SIGNED_OUT, user_id=user_id, session_key=session_key)


def remember_session_renewed(old_key: str | None, new_key: str | None) -> None:
    """A signed-in browser got a new session key (after its own password change): its sockets stay open."""
    if old_key and new_key and old_key != new_key:
        from django.core.cache import cache

        cache.set(_renamed_cache_key(old_key), new_key, RENAMED_SESSION_SECONDS)


def _renamed_cache_key(session_key: str) -> str:
    return f"devbench:access:session-renamed:{session_key}"


def _publish(message: dict) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    watcher = WATCHER.instance
    watcher_loop = watcher.loop if watcher is not None else None
    if running is not None:
        _sending.start(_group_send(layer, message))
    elif watcher_loop is not None and watcher_loop.is_running():
        # A sync thread of this process (a view, the admin): send from the
        # watcher's loop, which the in-memory layer needs (it is not thread-safe).
        asyncio.run_coroutine_threadsafe(_group_send(layer, message), watcher_loop)
    else:
        async_to_sync(_group_send)(layer, message)  # a process without sockets: a command, a worker


async def _group_send(layer, message: dict) -> None:
    try:
        await layer.group_send(GROUP, message)
    except Exception as error:  # the channel layer is down: the backstop re-check remains
        logger.warning("access_change_not_published", reason=message["reason"], error=repr(error))


_sending = BackgroundTasks("access_publish")


# The checks (a database thread) ---------------------------------------------------------------


def check_sockets(sockets: list[LiveSocket]) -> list[tuple[str | None, str, str | None]]:
    """For each socket: (the level its user holds now, why it changed, its current session key).

    Each user, session and (kind, workspace) is looked up once per call, so
    the backstop costs a few queries per user rather than per socket.
    """
    from platform_core.models import User

    users: dict[int, Any] = {}
    credentials: dict[tuple, tuple[str | None, str | None]] = {}
    rights: dict[tuple, str | None] = {}
    verdicts = []
    for socket in sockets:
        if socket.user_id not in users:
            users[socket.user_id] = User.objects.filter(pk=socket.user_id).first()
        user = users[socket.user_id]
        key = (socket.user_id, socket.session_key, socket.token_id)
        if key not in credentials:
            credentials[key] = _credentials_problem(user, socket.session_key, socket.token_id)
        problem, session_key = credentials[key]
        if problem is not None:
            verdicts.append((None, problem, session_key))
            continue
        rights_key = (socket.kind, socket.user_id, socket.workspace_id)
        if rights_key not in rights:
            rights[rights_key] = socket.rights(user)
        level = rights[rights_key]
        verdicts.append((level, REASON_NO_ACCESS if level is None else REASON_ROLE_CHANGED, session_key))
    return verdicts


def _credentials_problem(user, session_key: str | None, token_id: int | None) -> tuple[str | None, str | None]:
    """(why the socket's credentials no longer sign ``user`` in, or None; the session's current key)."""
    if user is None:
        return REASON_DELETED, session_key
    if not user.is_active:
        return REASON_DEACTIVATED, session_key
    if token_id is not None:
        from platform_core.models import ApiToken

        if not ApiToken.objects.active().filter(pk=token_id, user_id=user.pk).exists():
            return REASON_TOKEN_REVOKED, session_key
    if session_key is not None:
        return _session_problem(user, session_key)
    return None, session_key


def _session_problem(user, session_key: str) -> tuple[str | None, str]:
    """Django's own test (django.contrib.auth.get_user), without flushing anything: only reading."""
    from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY
    from django.core.cache import cache
    from django.utils.crypto import constant_time_compare

    store = import_module(settings.SESSION_ENGINE).SessionStore
    for _ in range(MAX_SESSION_RENAMES):
        data = store(session_key).load()  # {} when deleted (signed out) or expired
        if data:
            break
        renamed = cache.get(_renamed_cache_key(session_key))
        if renamed is None:
            return REASON_SESSION_ENDED, session_key
        session_key = renamed
    else:
        return REASON_SESSION_ENDED, session_key
    if str(data.get(SESSION_KEY)) != str(user.pk):
        return REASON_SESSION_ENDED, session_key  # someone else signed in in this browser
    session_hash = data.get(HASH_SESSION_KEY)
    hashes = [user.get_session_auth_hash(), *user.get_session_auth_fallback_hash()]
    if not session_hash or not any(constant_time_compare(session_hash, known) for known in hashes):
        return REASON_PASSWORD_CHANGED, session_key
    return None, session_key


# The watcher (the event loop of the sockets) -------------------------------------------------


class AccessWatcher:
    """The live sockets of this process and what re-checks them (see the module's docstring).

    Everything runs on the event loop that serves the sockets; the listener
    and the backstop start with the first socket and live as long as that loop.
    """

    def __init__(self):
        self.sockets: set[LiveSocket] = set()
        self.changes_received = 0
        self.loop: asyncio.AbstractEventLoop | None = None
        self._channel: str | None = None
        self._subscribed: asyncio.Event | None = None
        self._tasks: list[asyncio.Task] = []
        self._background = BackgroundTasks("access")

    async def start(self) -> int:
        """Listen for changes (once per loop); the number of changes received so far, for ``watch``.

        Call it before authorizing a socket: a change that arrives between the
        check and ``watch`` is then noticed.
        """
        loop = asyncio.get_running_loop()
        if self.loop is not loop:
            self._begin(loop)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._subscribed.wait()), SUBSCRIBE_TIMEOUT_SECONDS)
        return self.changes_received

    def _begin(self, loop: asyncio.AbstractEventLoop) -> None:
        # A new loop (tests run one per test): whatever ran on the old one is gone.
        self.loop = loop
        self.sockets.clear()
        self._channel = None
        self._subscribed = asyncio.Event()
        self._tasks = [loop.create_task(self._listen()), loop.create_task(self._recheck_periodically())]

    def watch(self, socket: LiveSocket, changes_seen: int) -> LiveSocket:
        """Re-check ``socket`` from now on; ``changes_seen`` is what ``start`` answered before its check."""
        self.sockets.add(socket)
        if changes_seen != self.changes_received:
            self._background.start(self.recheck([socket]))
        return socket

    def unwatch(self, socket: LiveSocket | None) -> None:
        self.sockets.discard(socket)

    async def recheck(self, sockets: list[LiveSocket]) -> None:
        """Re-run the checks for ``sockets`` and apply what changed."""
        sockets = [socket for socket in sockets if socket in self.sockets]
        if not sockets:
            return
        verdicts = await database_sync_to_async(check_sockets)(sockets)
        for socket, (level, reason, session_key) in zip(sockets, verdicts, strict=True):
            socket.session_key = session_key
            await self._settle(socket, level, reason)

    async def _settle(self, socket: LiveSocket, level: str | None, reason: str) -> None:
        if socket not in self.sockets or level == socket.level:
            return
        logger.info(
            "websocket_access_changed",
            kind=socket.kind,
            user_id=socket.user_id,
            workspace_id=socket.workspace_id,
            old_level=socket.level,
            level=level,
            reason=reason,
        )
        socket.level = level
        if level is None:
            self.sockets.discard(socket)
        ACCESS_CHANGES.labels(socket.kind, level or "none").inc()
        try:
            await socket.apply(level, reason)
        except Exception as error:  # one socket's failure must not spare the others
            logger.error("websocket_access_apply_failed", kind=socket.kind, error=repr(error))

    async def handle(self, change: dict) -> None:
        """One announced change: re-check the sockets it names (a sign-out closes them at once)."""
        affected = [socket for socket in self.sockets if socket.matches(change)]
        if not affected:
            return
        if change.get("reason") == SIGNED_OUT:
            for socket in affected:
                await self._settle(socket, None, REASON_SIGNED_OUT)
            return
        await self.recheck(affected)

    async def _listen(self) -> None:
        layer = get_channel_layer()
        if layer is None:
            logger.warning("access_watcher_without_channel_layer")
            return
        failures = 0
        while True:
            try:
                if self._channel is None:
                    self._channel = await layer.new_channel("devbench-access")
                await layer.group_add(GROUP, self._channel)
                self._subscribed.set()
                failures = 0
                while True:
                    message = await layer.receive(self._channel)
                    self.changes_received += 1
                    try:
                        await self.handle(message)
                    except Exception as error:  # a database hiccup: the next change or the backstop retries
                        logger.error("access_change_not_applied", reason=message.get("reason"), error=repr(error))
            except asyncio.CancelledError:
                raise
            except Exception as error:  # the channel layer went away: subscribe again, with backoff
                failures += 1
                delay = min(30.0, 0.5 * 2**failures)
                logger.warning("access_listener_failed", error=repr(error), retry_in_seconds=delay)
                await asyncio.sleep(delay)

    async def _recheck_periodically(self) -> None:
        layer = get_channel_layer()
        while True:
            await asyncio.sleep(float(settings.ACCESS_RECHECK_SECONDS))
            if layer is not None and self._channel is not None:
                # Group membership expires (a day by default); renewing it is one cheap call.
                with contextlib.suppress(Exception):
                    await layer.group_add(GROUP, self._channel)
            try:
                await self.recheck(list(self.sockets))
            except Exception as error:
                logger.error("access_recheck_failed", error=repr(error))

    async def close(self) -> None:
        """Stop listening (orderly shutdown, tests)."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._background.wait()
        layer = get_channel_layer()
        if layer is not None and self._channel is not None:
            with contextlib.suppress(Exception):
                await layer.group_discard(GROUP, self._channel)
        self._tasks = []
        self.sockets.clear()
        self.loop = None


WATCHER: PerProcess[AccessWatcher] = PerProcess(AccessWatcher)


def get_access_watcher() -> AccessWatcher:
    """The access watcher of this process."""
    return WATCHER.get()
