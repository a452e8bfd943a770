"""The language-server manager: every language-server session of this process and their lifetime.

Sessions are keyed by (workspace id, user id, server name). The first socket
starts the server; a second socket of the same user for the same server takes
the session over (the older one closes with 4009). When the last socket goes
the server keeps running for ``LSP_IDLE_TTL`` seconds, so a reload or a
dropped connection finds its analysis warm, then it is shut down.

Package changes in a workspace (the environment watcher, docs/environment.md)
restart the servers that depend on the environment (pyright), and their
clients reconnect and re-initialize.

Everything runs on the event loop that serves the sockets; ``call`` runs a
coroutine there for sync code (the API views).
"""

import asyncio
import concurrent.futures
from pathlib import Path

import structlog
from django.conf import settings

from lsp.servers import PYRIGHT, SERVER_NAMES, ServerUnavailableError, server_environment, server_spec
from lsp.sessions import FAILED_STATE, LanguageServerSession, LspClient, Policy, close_stderr_logger
from platform_core.background import BackgroundTasks
from platform_core.per_process import PerProcess
from workspaces.environment.pyright_config import ensure_pyright_config
from workspaces.environment.watcher import KIND_PACKAGES, EnvironmentEvent, EnvironmentWatcher, get_environment_watcher
from workspaces.runtime import get_runtime

logger = structlog.get_logger(__name__)


class LanguageServerError(Exception):
    """A session could not be attached; the message is shown to the user."""


class UnknownServer(LanguageServerError):
    pass


class SessionLimitReached(LanguageServerError):
    pass


class ServerFailed(LanguageServerError):
    pass


class NoSession(LanguageServerError):
    pass


def policy_from_settings() -> Policy:
    return Policy(
        idle_ttl=float(settings.LSP_IDLE_TTL),
        max_restarts=settings.LSP_MAX_RESTARTS,
        restart_window=float(settings.LSP_RESTART_WINDOW),
        backoff_base=settings.LSP_BACKOFF_BASE_MS / 1000,
        backoff_max=settings.LSP_BACKOFF_MAX_MS / 1000,
        max_message_bytes=settings.LSP_MAX_MESSAGE_BYTES,
        frame_log_size=settings.LSP_FRAME_LOG_SIZE,
        trace_payloads=settings.LSP_TRACE_PAYLOADS,
        stderr_max_bytes=settings.LSP_STDERR_MAX_BYTES,
        json_max_depth=settings.JSON_MAX_DEPTH,
        websocket_max_message_bytes=settings.WEBSOCKET_MAX_MESSAGE_BYTES,
    )


class LanguageServerManager:
    def __init__(self, environment_watcher: EnvironmentWatcher | None = None):
        self.sessions: dict[tuple[int, int, str], LanguageServerSession] = {}
        self.loop: asyncio.AbstractEventLoop | None = None
        self._environment_watcher = environment_watcher
        self._unsubscribe_environment = None
        self._background = BackgroundTasks("lsp")
        self._starting: dict[tuple[int, int, str], asyncio.Task] = {}

    @property
    def environment_watcher(self) -> EnvironmentWatcher:
        if self._environment_watcher is None:
            self._environment_watcher = get_environment_watcher()
        return self._environment_watcher

    # Attaching ------------------------------------------------------------------------------------------
    async def attach(self, workspace, user, server: str, transport) -> tuple[LanguageServerSession, LspClient]:
        """Attach a socket to the user's session of ``server`` in the workspace, starting it if needed."""
        self.loop = asyncio.get_running_loop()
        if server not in SERVER_NAMES:
            raise UnknownServer(f"No language server named {server[:40]!r}; there are {', '.join(SERVER_NAMES)}.")
        key = (workspace.pk, user.pk, server)
        session = self.sessions.get(key)
        if session is None or session.is_finished:
            starting = self._starting.get(key)
            if starting is None:
                live = sum(1 for other in self.sessions.values() if other.user_id == user.pk and not other.is_finished)
                if live >= settings.LSP_MAX_PER_USER:
                    raise SessionLimitReached(
                        f"You already have {live} language servers running, the most allowed; "
                        "close an IDE tab of another workspace and try again."
                    )
                starting = self.loop.create_task(self._start(workspace, user, server))
                self._starting[key] = starting
                starting.add_done_callback(lambda _: self._starting.pop(key, None))
            session = await asyncio.shield(starting)
        await session.ready.wait()
        if session.state == FAILED_STATE:
            raise ServerFailed(f"The {server} language server failed: {session.last_error} Restart it to try again.")
        return session, session.attach(transport)

    async def _start(self, workspace, user, server: str) -> LanguageServerSession:
        try:
            spec = server_spec(server)
        except ServerUnavailableError as error:
            raise LanguageServerError(str(error)) from error
        runtime = get_runtime()
        root = runtime.root(workspace.pk)
        process_root = runtime.process_root(workspace.pk)
        if server == PYRIGHT:
            await asyncio.to_thread(ensure_pyright_config, root)
        session = LanguageServerSession(
            workspace_id=workspace.pk,
            user_id=user.pk,
            username=user.get_username(),
            spec=spec,
            runtime=runtime,
            process_root=process_root,
            env=server_environment(process_root),
            policy=policy_from_settings(),
            log_path=self.log_path(workspace.pk, user.pk, server),
            on_finished=self._on_finished,
        )
        self.sessions[(workspace.pk, user.pk, server)] = session
        self._subscribe_to_environment()
        await self.environment_watcher.watch(workspace.pk, root)
        await session.start()
        return session

    @staticmethod
    def log_path(workspace_id: int, user_id: int, server: str) -> Path:
        """Where a session's server stderr goes (rotated; docs/operations.md)."""
        return Path(settings.LSP_LOG_DIR) / f"ws-{int(workspace_id)}" / f"user-{int(user_id)}-{server}.log"

    def detach(self, session: LanguageServerSession, client: LspClient) -> None:
        session.detach(client)
        client.stop()
        if session.client is None and not session.is_finished and session.idle_handle is None:
            session.idle_handle = self.loop.call_later(
                session.policy.idle_ttl, lambda: self._background.start(session.stop("idle"))
            )

    def revoke(self, session: LanguageServerSession, client: LspClient, notice: str, code: int, reason: str) -> None:
        """The client's user lost the right to this session: ``notice`` to the client, ``code``, stop the server.

        The session is the user's own (one per workspace, user and server), so
        nobody else loses a server.
        """
        session.detach(client)  # its documents are closed, requests the server sent it answered
        client.send(notice)
        client.close(code, reason)
        self._background.start(session.stop("access_revoked"))

    def _on_finished(self, session: LanguageServerSession) -> None:
        key = (session.workspace_id, session.user_id, session.spec.name)
        if self.sessions.get(key) is session:
            del self.sessions[key]
        close_stderr_logger(self.log_path(*key))
        self._background.start(self.environment_watcher.unwatch(session.workspace_id))

    # Requests from the API ---------------------------------------------------------------------------------
    def find(self, workspace_id: int, user_id: int, server: str) -> LanguageServerSession:
        session = self.sessions.get((workspace_id, user_id, server))
        if session is None or session.is_finished:
            raise NoSession(f"No {server} language server is running for you in this workspace.")
        return session

    def health(self, workspace_id: int, user_id: int | None = None) -> list[dict]:
        """Health of the workspace's sessions (of one user, if given)."""
        return [
            session.health()
            for session in list(self.sessions.values())
            if session.workspace_id == workspace_id and (user_id is None or session.user_id == user_id)
        ]

    def all_health(self) -> list[dict]:
        return [session.health() for session in list(self.sessions.values())]

    async def restart(self, workspace_id: int, user_id: int, server: str) -> dict:
        session = self.find(workspace_id, user_id, server)
        await session.restart("requested")
        return session.health()

    def frames(self, workspace_id: int, user_id: int, server: str) -> list[dict]:
        return [record.as_dict() for record in list(self.find(workspace_id, user_id, server).frames)]

    def call(self, function, *args, timeout: float = 30.0):
        """Run ``function(*args)`` (a coroutine function or a plain one) on the sessions' loop, from any thread.

        Without a loop (no session was ever attached in this process) plain
        functions run here and coroutine functions raise ``NoSession``.
        """
        loop = self.loop
        if loop is None or loop.is_closed():
            if asyncio.iscoroutinefunction(function):
                raise NoSession("No language server is running in this process.")
            return function(*args)

        async def run():
            result = function(*args)
            return await result if asyncio.iscoroutine(result) else result

        future = asyncio.run_coroutine_threadsafe(run(), loop)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError as error:
            future.cancel()
            raise LanguageServerError("The language server did not answer in time.") from error

    # Environment ----------------------------------------------------------------------------------------------
    def _subscribe_to_environment(self) -> None:
        if self._unsubscribe_environment is None:
            self._unsubscribe_environment = self.environment_watcher.subscribe(self._on_environment_event)

    async def _on_environment_event(self, event: EnvironmentEvent) -> None:
        if event.kind != KIND_PACKAGES:
            return
        sessions = [
            session
            for session in list(self.sessions.values())
            if session.workspace_id == event.workspace_id and session.spec.restart_on_environment_change
        ]
        logger.info("lsp_environment_changed", workspace_id=event.workspace_id, sessions=len(sessions))
        await asyncio.gather(*(session.restart("environment") for session in sessions))

    # Ending ---------------------------------------------------------------------------------------------------
    async def close_workspace(self, workspace_id: int) -> None:
        sessions = [session for session in self.sessions.values() if session.workspace_id == workspace_id]
        await asyncio.gather(*(session.stop("workspace_closed") for session in sessions))

    def schedule_close_workspace(self, workspace_id: int) -> None:
        """``close_workspace`` for sync code (the workspace deletion service)."""
        loop = self.loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(lambda: self._background.start(self.close_workspace(workspace_id)))

    async def close_all(self) -> None:
        """Stop every session and wait for the cleanup (orderly shutdown, tests)."""
        await asyncio.gather(*(session.stop("shutdown") for session in list(self.sessions.values())))
        await self._background.wait()
        if self._unsubscribe_environment is not None:
            self._unsubscribe_environment()
            self._unsubscribe_environment = None

    def kill_all_now(self) -> None:
        for session in list(self.sessions.values()):
            if session.process is not None:
                session.process.kill_now()


MANAGER: PerProcess[LanguageServerManager] = PerProcess(LanguageServerManager)


def get_language_server_manager() -> LanguageServerManager:
    """The language-server manager of this process."""
    return MANAGER.get()
