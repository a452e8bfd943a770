"""The terminal manager: every terminal session of this process, and the policy of their lifetime.

Lifetime rules (docs/protocols.md, "terminals"):

- **Grace period.** When the last client detaches, the session keeps running
  for ``TERMINAL_GRACE_SECONDS`` so a reload or a dropped connection finds
  the same shell; a client attaching in time cancels the countdown.
- **Idle culling.** A session whose PTY saw no input and no output for
  ``TERMINAL_IDLE_SECONDS`` while the shell sat at its prompt (no foreground
  command) is closed, attached or not. A quiet long-running command is not
  idle; a forgotten tab is.
- **Limits.** Starting a session (not attaching to one) is refused beyond
  ``TERMINAL_MAX_PER_USER`` live sessions started by the user or
  ``TERMINAL_MAX_PER_WORKSPACE`` in the workspace.
- **Process exit.** Shells are killed when this process exits: an atexit hook
  for orderly exits, and PR_SET_PDEATHSIG (Linux) plus the PTY hang-up for
  the rest.

Each running shell holds a watch on its workspace's environment (the
environment watcher, docs/environment.md) from before it starts until it ends,
so every pip call made in it is noticed and audited; package changes reach the
clients as ``environment_changed`` messages.
"""

import asyncio
import functools
import time
from typing import Any

import structlog
from channels.db import database_sync_to_async
from django.conf import settings

from platform_core.background import BackgroundTasks
from platform_core.close_codes import NOT_FOUND
from platform_core.per_process import PerProcess
from terminal import metrics, services
from terminal.sessions import FlowControl, PtySession, TerminalClient
from terminal.shell import prepare_shell
from workspaces.environment.attribution import SESSION_VARIABLE, new_terminal_credentials
from workspaces.environment.watcher import KIND_PACKAGES, EnvironmentEvent, EnvironmentWatcher, get_environment_watcher
from workspaces.runtime import get_runtime

logger = structlog.get_logger(__name__)


class TerminalError(Exception):
    """A terminal could not be attached; the message is shown to the user."""


class TerminalLimitReached(TerminalError):
    pass


class TerminalNotFound(TerminalError):
    pass


class TerminalUnavailable(TerminalError):
    pass


class TerminalManager:
    """Every terminal session of this process, keyed by (workspace id, name) (terminado's NamedTermManager).

    ``attach`` creates a session on the first read-write attach and joins the
    existing one afterwards; ``detach`` starts the grace period when the last
    client leaves. The manager owns the policy (limits, grace period, idle
    culling, shutdown) and writes the audit rows; sessions own their process
    and clients. All methods run on the event loop that serves the sockets,
    except ``broadcast_notice``, ``notify_environment_changed`` and
    ``schedule_close_workspace``, which any thread may call.
    """

    def __init__(self, environment_watcher: EnvironmentWatcher | None = None):
        self.sessions: dict[tuple[int, str], PtySession] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._background = BackgroundTasks("terminal")
        self._environment_watcher = environment_watcher
        self._unsubscribe_environment = None

    @property
    def environment_watcher(self) -> EnvironmentWatcher:
        if self._environment_watcher is None:
            self._environment_watcher = get_environment_watcher()
        return self._environment_watcher

    # Settings are read on use, so they can change under tests and are never read at import.
    @staticmethod
    def _flow() -> FlowControl:
        return FlowControl(
            high_bytes=settings.TERMINAL_FLOW_HIGH_BYTES,
            low_bytes=settings.TERMINAL_FLOW_LOW_BYTES,
            stuck_seconds=float(settings.TERMINAL_STUCK_CLIENT_SECONDS),
        )

    # Attaching ---------------------------------------------------------------------------
    async def attach(self, workspace, user, name: str, client: TerminalClient, readonly: bool) -> PtySession:
        """Attach ``client`` to the workspace's terminal ``name``, starting it if needed.

        Raises ``TerminalNotFound`` when a read-only client asks for a terminal
        that is not running (viewers watch, they do not start shells),
        ``TerminalLimitReached`` and ``TerminalUnavailable``.
        """
        self._loop = asyncio.get_running_loop()
        session = self.sessions.get((workspace.pk, name))
        if session is not None and session.is_closing:
            await session.finished.wait()  # being closed (grace expired, idle): start afresh after it
            session = self.sessions.get((workspace.pk, name))
        if session is None or session.is_finished:
            if readonly:
                raise TerminalNotFound(f"No terminal named {name!r} is open in this workspace.")
            self._check_limits(workspace.pk, user)
            session = await self._start(workspace, user, name)
        else:
            await asyncio.shield(session.ready)  # another socket is starting it: raises its failure
        if session.add_client(client):
            self._cancel_grace(session)
        elif not client.gone:
            raise TerminalUnavailable("This terminal is closing; connect again to start a new one.")
        elif not session.clients:
            self._start_grace(session)
        return session

    def _check_limits(self, workspace_id: int, user) -> None:
        live = [session for session in self.sessions.values() if not session.is_finished]
        in_workspace = sum(session.workspace_id == workspace_id for session in live)
        if in_workspace >= settings.TERMINAL_MAX_PER_WORKSPACE:
            raise TerminalLimitReached(
                f"This workspace already has {in_workspace} terminals open, the most allowed. "
                "Close one (type exit in it) and try again."
            )
        by_user = sum(session.creator_id == user.pk for session in live)
        if by_user >= settings.TERMINAL_MAX_PER_USER:
            raise TerminalLimitReached(
                f"You already have {by_user} terminals open, the most allowed per person. "
                "Close one (type exit in it) and try again."
            )

    async def _start(self, workspace, user, name: str) -> PtySession:
        session = PtySession(
            workspace,
            name,
            creator=user,
            replay_limit=settings.TERMINAL_REPLAY_BYTES,
            flow=self._flow(),
            on_finished=self._on_finished,
        )
        # Registered before the first await: a second socket for the same name
        # joins this session instead of starting another shell.
        self.sessions[(workspace.pk, name)] = session
        watching = False
        # Its shell's pip calls are credited to this user by this session's key.
        credentials = new_terminal_credentials()
        try:
            runtime = get_runtime(workspace.runtime or None)
            root = runtime.root(workspace.pk)
            command = await asyncio.get_running_loop().run_in_executor(
                None,
                functools.partial(
                    prepare_shell, root, workspace.pk, workspace.name, process_root=runtime.process_root(workspace.pk)
                ),
            )
            self._subscribe_to_environment()
            await self.environment_watcher.watch(workspace.pk, root)  # before the shell can run pip
            watching = True
            env = {**command.env, SESSION_VARIABLE: credentials.environment_value}
            await session.start(runtime, command.argv, env)
        except BaseException as error:  # also a cancelled connect: never leave a half-started entry
            if self.sessions.get((workspace.pk, name)) is session:
                del self.sessions[(workspace.pk, name)]
            if watching:
                self._background.start(self.environment_watcher.unwatch(workspace.pk))
            failure = TerminalUnavailable(f"The terminal could not start: {error}")
            if not session.ready.done():
                session.ready.set_exception(failure)
                session.ready.exception()  # retrieved: attachers waiting on it re-raise it, nobody logs it
            if not isinstance(error, Exception):
                raise
            metrics.TERMINAL_SESSIONS.labels("failed").inc()
            logger.warning("terminal_start_failed", workspace_id=workspace.pk, name=name, error=str(error))
            raise failure from error
        self._schedule_idle_check(session, float(settings.TERMINAL_IDLE_SECONDS))
        try:
            await database_sync_to_async(services.record_terminal_open)(
                user, workspace, name=name, readonly=False, session_id=credentials.session_id
            )
        except asyncio.CancelledError:
            self._start_grace(session)  # the socket went away meanwhile: the usual rules end the shell
            raise
        except Exception as error:
            # No shell without its audit row.
            await session.close("failed")
            raise TerminalUnavailable("The terminal could not be recorded in the audit log.") from error
        return session

    def detach(self, session: PtySession, client: TerminalClient) -> None:
        session.remove_client(client)
        if not session.clients and not session.is_finished:
            self._start_grace(session)

    # Grace period and idle culling -------------------------------------------------------------
    def _start_grace(self, session: PtySession) -> None:
        self._cancel_grace(session)
        if session.is_finished:
            return
        session.grace_handle = session.loop.call_later(
            float(settings.TERMINAL_GRACE_SECONDS), self._grace_expired, session
        )

    @staticmethod
    def _cancel_grace(session: PtySession) -> None:
        if session.grace_handle is not None:
            session.grace_handle.cancel()
            session.grace_handle = None

    def _grace_expired(self, session: PtySession) -> None:
        session.grace_handle = None
        if not session.clients and not session.is_finished:
            self._background.start(session.close("grace_expired"))

    def _schedule_idle_check(self, session: PtySession, delay: float) -> None:
        session.idle_handle = session.loop.call_later(delay, self._idle_check, session)

    def _idle_check(self, session: PtySession) -> None:
        session.idle_handle = None
        if session.is_finished:
            return
        idle_seconds = float(settings.TERMINAL_IDLE_SECONDS)
        quiet_for = time.monotonic() - session.last_activity
        if quiet_for < idle_seconds:
            self._schedule_idle_check(session, idle_seconds - quiet_for)
            return
        if session.process.runs_foreground_command():
            self._schedule_idle_check(session, idle_seconds)  # a command is running: not idle
            return
        minutes = idle_seconds / 60
        self._background.start(
            session.close("idle", notice=f"This terminal was closed after {minutes:g} minutes without activity.")
        )

    # Ending -------------------------------------------------------------------------------------------
    def _on_finished(self, session: PtySession) -> None:
        key = (session.workspace_id, session.name)
        if self.sessions.get(key) is session:
            del self.sessions[key]
        self._cancel_grace(session)
        if session.idle_handle is not None:
            session.idle_handle.cancel()
            session.idle_handle = None
        self._background.start(self.environment_watcher.unwatch(session.workspace_id))
        self._background.start(
            database_sync_to_async(services.record_terminal_close)(
                session.creator,
                session.workspace,
                name=session.name,
                exit_code=session.exit_code,
                duration_seconds=round(time.monotonic() - session.started_at, 1),
                outcome=session.outcome,
            )
        )

    async def close_workspace(self, workspace_id: int) -> None:
        """Close every terminal of a workspace (it was deleted); clients get a notice and 4004."""
        sessions = [session for session in self.sessions.values() if session.workspace_id == workspace_id]
        await asyncio.gather(
            *(
                session.close("workspace_closed", notice="The workspace was deleted.", close_code=NOT_FOUND)
                for session in sessions
            )
        )

    async def close_all(self) -> None:
        """Close every session and wait for their audit rows (orderly shutdown, tests)."""
        await asyncio.gather(*(session.close("shutdown") for session in list(self.sessions.values())))
        await self._background.wait()
        if self._unsubscribe_environment is not None:
            self._unsubscribe_environment()
            self._unsubscribe_environment = None

    def kill_all_now(self) -> None:
        """SIGKILL every shell without waiting on the event loop (interpreter exit)."""
        for session in list(self.sessions.values()):
            if session.process is not None:
                session.process.kill_now()

    # Calls from any thread -----------------------------------------------------------------------
    def _on_loop(self, function, *args) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return  # no terminal was ever opened in this process
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            function(*args)
        else:
            loop.call_soon_threadsafe(function, *args)

    def broadcast_notice(self, workspace_id: int, message: dict[str, Any]) -> None:
        """Send ``message`` (a JSON object with a "type") to every client of every terminal of a workspace."""

        def broadcast():
            for session in list(self.sessions.values()):
                if session.workspace_id == workspace_id:
                    session.send_to_all(message)

        self._on_loop(broadcast)

    def notify_environment_changed(self, workspace_id: int, updated_at: str) -> None:
        """The workspace's packages changed: tell its terminals' clients."""
        self.broadcast_notice(workspace_id, {"type": "environment_changed", "updated_at": updated_at})

    def _subscribe_to_environment(self) -> None:
        if self._unsubscribe_environment is None:
            self._unsubscribe_environment = self.environment_watcher.subscribe(self._on_environment_event)

    def _on_environment_event(self, event: EnvironmentEvent) -> None:
        # A runner restart request is the runner's business, not the terminal's.
        if event.kind == KIND_PACKAGES:
            self.notify_environment_changed(event.workspace_id, event.updated_at)

    def schedule_close_workspace(self, workspace_id: int) -> None:
        """``close_workspace`` for sync code (the workspace deletion service)."""
        self._on_loop(lambda: self._background.start(self.close_workspace(workspace_id)))


MANAGER: PerProcess[TerminalManager] = PerProcess(TerminalManager)


def get_terminal_manager() -> TerminalManager:
    """The terminal manager of this process."""
    return MANAGER.get()
