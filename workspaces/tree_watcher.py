"""Following workspaces' files on disk: one inotify instance and one thread per process.

The IDE's file tree and open editors follow the disk (docs/protocols.md,
"/ws/workspaces/<id>/events/"). ``TreeWatcher`` watches the folders of each
workspace it is asked to, gathers what changed for ``BATCH_SECONDS`` and hands
each workspace's batch to a callback: which paths were added, modified or
deleted. Pure: no Django; the manager (workspaces/file_events.py) decides who
hears about it.

Why inotify through inotify_simple (a thin ctypes wrapper) and not watchfiles
(Rust notify):

- notify follows symbolic links when it walks a tree to watch it. Tried: with
  ``ln -s /tmp/outside link`` in the watched folder, files written in
  /tmp/outside were reported as ``link/...``. A workspace user could make the
  platform watch the whole host file system through one link, report names
  from outside the workspace, and use up the platform user's inotify watches
  (shared by every workspace). Here each folder is opened by one name relative
  to its parent with O_NOFOLLOW (as workspaces.beneath does) and watched
  through that descriptor (/proc/self/fd/N): a link is an entry like any
  other, never entered.
- Subtrees that are noise to a file tree (``NOT_ENTERED``: .git internals, the
  venv, caches, the platform's .devbench) are not watched inside at all, which
  notify's recursive mode cannot do; their own appearance is reported.
- One inotify instance and one thread serve every workspace of the process
  (Linux allows 128 instances per user by default; watchfiles' awatch parks a
  thread per watch in anyio's shared pool of 40).

Why a thread of its own: entering a new folder (a ``git clone``, ``cp -r``)
lists it and everything below it, blocking system calls the event loop must
not wait on. The thread owns all the watcher's state; other threads talk to it
through a command queue and get its answers as futures.

A new folder is entered after it appeared, so files made in it before its
watch was in place are not reported one by one: the batch says the folder was
added, and a client lists it when it shows it. Changes a workspace makes
faster than the thread reads them (the kernel's queue overflows) and batches
over ``MAX_CHANGES_PER_BATCH`` become one ``Resync``: reload what you show.
"""

import contextlib
import errno
import os
import queue
import select
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path

import structlog
from inotify_simple import INotify
from inotify_simple import flags as inotify_flags

logger = structlog.get_logger(__name__)

# Folders whose insides are not watched, wherever they are: version-control
# internals, virtual environments and caches change by the thousand (pip, git,
# the runner's bytecode) and nobody browses them in the tree; .devbench and
# .pip-logs are the platform's own state (the shell's history, pip's logs).
NOT_ENTERED = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        ".venv",
        ".devbench",
        ".pip-logs",
        "__pycache__",
        "node_modules",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".tox",
    }
)
BATCH_SECONDS = 0.1  # changes are gathered this long after the first one, then sent together
MAX_CHANGES_PER_BATCH = 1000  # more paths in one batch than this become one Resync

ADDED, MODIFIED, DELETED = "added", "modified", "deleted"

FOLDER_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# What a watched folder reports. Not ATTRIB (touch, chmod: nothing the tree or
# an editor shows), not OPEN/ACCESS (reads). EXCL_UNLINK: nothing from files
# already deleted but still open. ONLYDIR: the watch is added through
# /proc/self/fd/N, a link the kernel resolves to the very folder we opened
# (so no DONT_FOLLOW, which would refuse that link), and it must be a folder.
FOLDER_MASK = (
    inotify_flags.CREATE
    | inotify_flags.DELETE
    | inotify_flags.MOVED_FROM
    | inotify_flags.MOVED_TO
    | inotify_flags.MODIFY
    | inotify_flags.CLOSE_WRITE
    | inotify_flags.DELETE_SELF
    | inotify_flags.MOVE_SELF
    | inotify_flags.EXCL_UNLINK
    | inotify_flags.ONLYDIR
)


# What the watcher reports ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    """One path that changed: workspace-relative with '/' ("src/app.py"), as the files API names it."""

    path: str
    change: str  # ADDED | MODIFIED | DELETED
    is_directory: bool


@dataclass(frozen=True)
class Changes:
    """A batch of changes of one workspace, in the order they first happened."""

    changes: tuple[Change, ...]


@dataclass(frozen=True)
class Resync:
    """Too much changed to say what: whoever shows the workspace's files should read them again."""

    reason: str


@dataclass(frozen=True)
class Limited:
    """Some folders are not watched (a limit was reached); their changes go unreported."""

    message: str


@dataclass(frozen=True)
class RootGone:
    """The workspace's own folder was deleted or moved away (a deleted workspace goes to the trash)."""


WatchEvent = Changes | Resync | Limited | RootGone
Deliver = Callable[[int, WatchEvent], None]


class WatchUnavailable(Exception):
    """The workspace's folder cannot be watched (missing, or the system's inotify limits)."""


# The state of one workspace (owned by the watcher's thread) ---------------------------------------------


@dataclass
class _Tree:
    workspace_id: int
    root_fd: int
    max_directories: int
    paths_by_watch: dict[int, str] = field(default_factory=dict)  # watch descriptor -> folder ("" is the root)
    watches_by_path: dict[str, int] = field(default_factory=dict)
    pending: dict[str, list] = field(default_factory=dict)  # path -> [first change, last change, is_directory]
    pending_since: float | None = None
    resync_reason: str | None = None
    limited: bool = False

    def record(self, path: str, change: str, is_directory: bool, now: float) -> None:
        if self.pending_since is None:
            self.pending_since = now
        if self.resync_reason is not None:
            return  # the batch is a Resync already: nothing to remember
        entry = self.pending.get(path)
        if entry is None:
            if len(self.pending) >= MAX_CHANGES_PER_BATCH:
                self.pending.clear()
                self.resync_reason = f"More than {MAX_CHANGES_PER_BATCH} files changed at once."
                return
            self.pending[path] = [change, change, is_directory]
        else:
            entry[1] = change
            entry[2] = is_directory

    def take_batch(self) -> WatchEvent | None:
        """What happened since the last batch, netted per path; None if nothing is left of it."""
        pending, reason = self.pending, self.resync_reason
        self.pending, self.resync_reason, self.pending_since = {}, None, None
        if reason is not None:
            return Resync(reason)
        # A folder deleted in this batch stands for everything below it.
        deleted_folders = {
            path for path, (first, last, is_directory) in pending.items() if is_directory and last == DELETED
        }
        changes = []
        for path, (first, last, is_directory) in pending.items():
            if first == ADDED and last == DELETED:
                continue  # lived and died within the batch: a temporary file (an atomic save's)
            if deleted_folders and _has_ancestor_in(path, deleted_folders):
                continue
            change = ADDED if first == ADDED else last
            changes.append(Change(_displayable(path), change, is_directory))
        return Changes(tuple(changes)) if changes else None


def _has_ancestor_in(path: str, folders: set[str]) -> bool:
    while "/" in path:
        path = path.rsplit("/", 1)[0]
        if path in folders:
            return True
    return False


def _join(folder: str, name: str) -> str:
    return f"{folder}/{name}" if folder else name


def _displayable(path: str) -> str:
    # Names made in a terminal may not be UTF-8; the files API lists them with
    # replacement characters (workspaces.files._displayable), so do the same.
    return os.fsencode(path).decode("utf-8", "replace")


# The watcher ---------------------------------------------------------------------------------------------


class TreeWatcher:
    """Watches the folders of workspaces and reports their changes in batches (see the module's docstring).

    ``watch`` and ``unwatch`` may be called from any thread and answer
    futures; ``deliver(workspace_id, event)`` is called on the watcher's own
    thread, so it must only hand the event over (``call_soon_threadsafe``).
    """

    def __init__(self, deliver: Deliver, *, batch_seconds: float = BATCH_SECONDS):
        self._deliver = deliver
        self._batch_seconds = batch_seconds
        self._commands: queue.SimpleQueue = queue.SimpleQueue()
        self._start_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._wake_read, self._wake_write = -1, -1
        # Owned by the thread:
        self._inotify: INotify | None = None
        self._trees: dict[int, _Tree] = {}
        self._tree_of_watch: dict[int, _Tree] = {}

    # Calls from any thread -----------------------------------------------------------------------------

    def watch(self, workspace_id: int, root: Path, *, max_directories: int) -> Future:
        """Start watching ``root`` (the platform's path of the workspace); resolves once its folders are watched.

        Fails with ``WatchUnavailable`` when the folder cannot be watched at all.
        """
        return self._command("watch", workspace_id, Path(root), max_directories)

    def unwatch(self, workspace_id: int) -> Future:
        return self._command("unwatch", workspace_id)

    def stop(self, timeout: float = 5.0) -> None:
        """End the thread, removing every watch (orderly shutdown, tests)."""
        thread = self._thread
        if thread is None or not thread.is_alive():
            return
        self._command("stop")
        thread.join(timeout)

    def watched_workspaces(self) -> set[int]:
        """The workspaces watched right now (a snapshot of the thread's state, for health checks and tests)."""
        return set(self._trees)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _command(self, name: str, *args) -> Future:
        future: Future = Future()
        with self._start_lock:
            if name != "stop" and not self.running:
                self._start_thread()
            elif name == "stop" and not self.running:
                future.set_result(None)
                return future
            self._commands.put((name, args, future))
            with contextlib.suppress(BlockingIOError):
                os.write(self._wake_write, b"x")
        return future

    def _start_thread(self) -> None:
        if self._wake_read == -1:
            self._wake_read, self._wake_write = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._thread = threading.Thread(target=self._run, name="devbench-tree-watcher", daemon=True)
        self._thread.start()

    # The thread -------------------------------------------------------------------------------------------

    def _run(self) -> None:
        poller = select.poll()
        poller.register(self._wake_read, select.POLLIN)
        registered = False
        try:
            while True:
                if self._inotify is not None and not registered:
                    poller.register(self._inotify.fileno(), select.POLLIN)
                    registered = True
                try:
                    for descriptor, _ in poller.poll(self._poll_timeout_ms()):
                        if descriptor == self._wake_read:
                            with contextlib.suppress(BlockingIOError):
                                os.read(self._wake_read, 4096)
                            if self._run_commands():
                                return
                        elif self._inotify is not None:
                            self._handle_events(self._inotify.read(timeout=0))
                    self._send_due_batches()
                except Exception:
                    # A bug must not end the watching of every workspace of the process.
                    logger.exception("tree_watcher_error")
        finally:
            self._shut_down()

    def _poll_timeout_ms(self) -> int:
        waiting = [tree.pending_since for tree in self._trees.values() if tree.pending_since is not None]
        if not waiting:
            return -1
        due = min(waiting) + self._batch_seconds
        return max(0, int((due - time.monotonic()) * 1000) + 1)

    def _run_commands(self) -> bool:
        """Carry out queued commands; True when told to stop."""
        while True:
            try:
                name, args, future = self._commands.get_nowait()
            except queue.Empty:
                return False
            if name == "stop":
                future.set_result(None)
                return True
            try:
                result = self._start_watching(*args) if name == "watch" else self._stop_watching(*args)
            except Exception as error:
                future.set_exception(error)
            else:
                future.set_result(result)

    def _start_watching(self, workspace_id: int, root: Path, max_directories: int) -> None:
        if workspace_id in self._trees:
            return
        if self._inotify is None:
            try:
                self._inotify = INotify()
            except OSError as error:
                raise WatchUnavailable(f"inotify is not available: {error.strerror}") from error
        try:
            root_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError as error:
            raise WatchUnavailable(f"The workspace's folder cannot be opened: {error.strerror}") from error
        tree = _Tree(workspace_id, root_fd, max_directories)
        self._trees[workspace_id] = tree
        self._enter(tree, "")
        if "" not in tree.watches_by_path:
            self._stop_watching(workspace_id)
            raise WatchUnavailable("The workspace's folder cannot be watched (the system's inotify limit?).")
        logger.info("tree_watch_started", workspace_id=workspace_id, folders=len(tree.paths_by_watch))

    def _stop_watching(self, workspace_id: int) -> None:
        tree = self._trees.pop(workspace_id, None)
        if tree is None:
            return
        for watch in tree.paths_by_watch:
            self._tree_of_watch.pop(watch, None)
            with contextlib.suppress(OSError):
                self._inotify.rm_watch(watch)
        os.close(tree.root_fd)

    def _shut_down(self) -> None:
        for workspace_id in list(self._trees):
            self._stop_watching(workspace_id)
        if self._inotify is not None:
            self._inotify.close()
            self._inotify = None
        # Commands that came after "stop" get an answer instead of waiting forever.
        while True:
            try:
                _, _, future = self._commands.get_nowait()
            except queue.Empty:
                break
            if not future.done():
                future.set_exception(WatchUnavailable("The file watcher was stopped."))

    def _send(self, workspace_id: int, event: WatchEvent) -> None:
        try:
            self._deliver(workspace_id, event)
        except Exception:
            logger.exception("tree_watcher_delivery_failed", workspace_id=workspace_id)

    # Entering folders ---------------------------------------------------------------------------------

    def _open_folder(self, tree: _Tree, relative: str) -> int | None:
        """A descriptor of the folder ``relative``, walked one name at a time without following links."""
        descriptor = os.dup(tree.root_fd)
        for name in relative.split("/") if relative else []:
            try:
                child = os.open(name, FOLDER_FLAGS, dir_fd=descriptor)
            except OSError:
                child = None  # gone already, or a link (ELOOP) or a file (ENOTDIR) now: not a folder to enter
            os.close(descriptor)
            if child is None:
                return None
            descriptor = child
        return descriptor

    def _enter(self, tree: _Tree, relative: str) -> None:
        """Watch the folder ``relative`` and the folders below it that may be entered."""
        waiting = [relative]
        while waiting:
            folder = waiting.pop()
            descriptor = self._open_folder(tree, folder)
            if descriptor is None:
                continue
            try:
                if not self._add_watch(tree, folder, descriptor):
                    continue
                with os.scandir(descriptor) as entries:
                    for entry in entries:
                        with contextlib.suppress(OSError):
                            if entry.name not in NOT_ENTERED and entry.is_dir(follow_symlinks=False):
                                waiting.append(_join(folder, entry.name))
            except OSError:
                continue  # removed while we listed it: its parent reports that
            finally:
                os.close(descriptor)

    def _add_watch(self, tree: _Tree, folder: str, descriptor: int) -> bool:
        if folder not in tree.watches_by_path and len(tree.paths_by_watch) >= tree.max_directories:
            self._limit_reached(
                tree,
                f"This workspace has more than {tree.max_directories} folders: changes in the others "
                "are not followed live (use Refresh).",
            )
            return False
        try:
            watch = self._inotify.add_watch(f"/proc/self/fd/{descriptor}", FOLDER_MASK)
        except OSError as error:
            if error.errno != errno.ENOSPC:
                return False  # gone meanwhile
            self._limit_reached(
                tree, "The system's limit of watched folders was reached: some changes are not followed live."
            )
            return False
        previous = tree.paths_by_watch.get(watch)
        if previous is not None and previous != folder:
            tree.watches_by_path.pop(previous, None)  # the same folder under a new name (a move being processed)
        tree.paths_by_watch[watch] = folder
        tree.watches_by_path[folder] = watch
        self._tree_of_watch[watch] = tree
        return True

    def _limit_reached(self, tree: _Tree, message: str) -> None:
        if not tree.limited:
            tree.limited = True
            logger.warning("tree_watch_limited", workspace_id=tree.workspace_id, reason=message)
            self._send(tree.workspace_id, Limited(message))

    def _forget(self, tree: _Tree, folder: str, *, below: bool) -> None:
        """Stop watching ``folder`` (and, with ``below``, the folders under it)."""
        prefix = folder + "/"
        paths = [folder]
        if below:
            paths += [path for path in tree.watches_by_path if path.startswith(prefix)]
        for path in paths:
            watch = tree.watches_by_path.pop(path, None)
            if watch is None:
                continue
            tree.paths_by_watch.pop(watch, None)
            self._tree_of_watch.pop(watch, None)
            with contextlib.suppress(OSError):
                self._inotify.rm_watch(watch)

    # Events -------------------------------------------------------------------------------------------

    def _handle_events(self, events) -> None:
        now = time.monotonic()
        for event in events:
            if event.mask & inotify_flags.Q_OVERFLOW:
                self._overflowed(now)
                continue
            tree = self._tree_of_watch.get(event.wd)
            folder = tree.paths_by_watch.get(event.wd) if tree is not None else None
            if folder is None:
                continue  # a watch removed since (its last events still arrive)
            self._handle_event(tree, folder, event, now)

    def _handle_event(self, tree: _Tree, folder: str, event, now: float) -> None:
        mask = event.mask
        if mask & inotify_flags.IGNORED:
            # The kernel dropped the watch (its folder was deleted).
            tree.paths_by_watch.pop(event.wd, None)
            tree.watches_by_path.pop(folder, None)
            self._tree_of_watch.pop(event.wd, None)
            if folder == "":
                self._root_gone(tree)
            return
        if not event.name:
            if folder == "" and mask & (inotify_flags.DELETE_SELF | inotify_flags.MOVE_SELF):
                self._root_gone(tree)
            return  # a watched folder's own deletion or move: its parent reports it
        path = _join(folder, event.name)
        is_directory = bool(mask & inotify_flags.ISDIR)
        if mask & (inotify_flags.CREATE | inotify_flags.MOVED_TO):
            tree.record(path, ADDED, is_directory, now)
            if is_directory and event.name not in NOT_ENTERED:
                self._enter(tree, path)
        elif mask & (inotify_flags.DELETE | inotify_flags.MOVED_FROM):
            tree.record(path, DELETED, is_directory, now)
            if is_directory:
                # A deleted folder was empty (its contents went first); a moved
                # one takes its watched subfolders along, under names that are
                # now wrong: forget them (a move within the workspace enters
                # the folder again under its new name).
                self._forget(tree, path, below=bool(mask & inotify_flags.MOVED_FROM))
        elif mask & (inotify_flags.MODIFY | inotify_flags.CLOSE_WRITE) and not is_directory:
            tree.record(path, MODIFIED, False, now)

    def _overflowed(self, now: float) -> None:
        # The kernel dropped events: folders made meanwhile may be unwatched.
        # Watch every tree afresh and tell the clients to read everything again.
        logger.warning("tree_watch_overflow", workspaces=len(self._trees))
        for tree in list(self._trees.values()):
            for watch in list(tree.paths_by_watch):
                self._tree_of_watch.pop(watch, None)
                with contextlib.suppress(OSError):
                    self._inotify.rm_watch(watch)
            tree.paths_by_watch.clear()
            tree.watches_by_path.clear()
            tree.limited = False
            self._enter(tree, "")
            tree.pending.clear()
            tree.resync_reason = "Changes came faster than they could be followed."
            tree.pending_since = tree.pending_since or now

    def _root_gone(self, tree: _Tree) -> None:
        if self._trees.get(tree.workspace_id) is not tree:
            return
        self._stop_watching(tree.workspace_id)
        self._send(tree.workspace_id, RootGone())

    def _send_due_batches(self) -> None:
        now = time.monotonic()
        for tree in list(self._trees.values()):
            if tree.pending_since is None or now - tree.pending_since < self._batch_seconds:
                continue
            batch = tree.take_batch()
            if batch is not None:
                self._send(tree.workspace_id, batch)
