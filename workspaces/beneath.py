"""Walking a path beneath a folder by descriptor, so the file used is the file checked.

Checking a path and then opening it by that path again leaves a gap: a link
swapped in between sends the open elsewhere (a workspace user did exactly that
to read /etc/passwd through the download endpoint). Here the kernel never
resolves more than one name: the walk starts from a descriptor of the root,
opens each folder relative to the one before with O_NOFOLLOW, and follows a
symbolic link only by reading it and walking its target in its place, refusing
it if it leads outside. Callers then act on the descriptors the walk holds open
(``dir_fd`` for every system call), never on a path string.

Why a walk rather than openat2(RESOLVE_BENEATH): openat2 needs Linux 5.6+, its
syscall number per architecture through ctypes, and some container seccomp
profiles block it, so this walk would be needed as a fallback anyway: two
resolvers that must agree for one guarantee. RESOLVE_BENEATH also refuses every
absolute link, even one pointing inside the workspace, which the files API has
always followed. One walker, the same on every machine, costs one openat per
name.

What this does not cover: a folder held open here and then moved out of the
root by someone else (the sandboxed runtime cannot: /workspace is its own
mount, and a rename across mounts fails), and hard links, which are the file
itself.
"""

import errno
import os
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

# Where a workspace's own processes see it (the sandbox and containers mount it
# there: workspaces/runtime/sandbox.py PROCESS_ROOT). A link made in a terminal
# names its target that way, so an absolute target under it lies inside.
PROCESS_ROOT = "/workspace"

# As many links as the kernel follows in one path (MAXSYMLINKS) before ELOOP.
MAX_SYMLINK_HOPS = 40

# O_NOFOLLOW on every open: a link is never followed by the kernel, only by the
# walk, which checks where it leads. O_NONBLOCK: opening a FIFO made in the
# terminal must not hang the caller (regular files ignore the flag).
FOLDER_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


class LeadsOutside(Exception):
    """A symbolic link on the way leads outside the root."""


class Missing(Exception):
    """A folder on the way does not exist, or is not a folder."""


class TooManyLinks(Exception):
    """More than MAX_SYMLINK_HOPS links on the way: a loop, most likely."""


class NotOpenable(Exception):
    """The last name is something that cannot be opened (a socket)."""


class Root:
    """A folder held open, the anchor every walk starts from; a context manager that closes it.

    The root's own path is the platform's (settings and the runtime) and is
    trusted; everything below it belongs to the workspace's user.
    """

    def __init__(self, path: os.PathLike | str):
        self.path = os.path.normpath(os.fspath(path))
        self.real_path = os.path.realpath(path)
        self.fd = os.open(self.real_path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)

    def close(self) -> None:
        os.close(self.fd)

    def __enter__(self) -> "Root":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def names_of_absolute(self, target: str) -> list[str] | None:
        """The names below the root of an absolute link target, or None if it lies outside."""
        target = os.path.normpath(target)
        for prefix in {self.real_path, self.path, PROCESS_ROOT}:
            if target == prefix:
                return []
            if target.startswith(prefix.rstrip("/") + "/"):
                return target[len(prefix.rstrip("/")) + 1 :].split("/")
        return None

    def open_folder(self, names: list[str]) -> int:
        """A new descriptor of the folder at ``names`` (real folders, as a walk recorded them)."""
        current = os.dup(self.fd)
        try:
            for name in names:
                try:
                    child = os.open(name, FOLDER_FLAGS, dir_fd=current)
                except (FileNotFoundError, NotADirectoryError) as error:
                    raise Missing from error  # renamed or replaced meanwhile
                os.close(current)
                current = child
        except BaseException:
            os.close(current)
            raise
        return current


@dataclass
class Location:
    """Where a walk ended, held open until its ``walk`` block ends.

    ``directory_fd`` is the folder holding the last name, ``name`` that name;
    an empty ``name`` means the walk ended on the folder ``directory_fd`` itself
    (the root, or a link to a folder). ``folder`` is that folder's path below
    the root after following links, as a list of names. ``fd`` is the object at
    the end, opened by the walk when asked for, None if nothing is there.
    ``through_link``: the last name was a link that the walk followed.
    """

    directory_fd: int = -1
    name: str = ""
    folder: list[str] = field(default_factory=list)
    fd: int | None = None
    through_link: bool = False
    _owned: list[int] = field(default_factory=list, repr=False)

    @property
    def target(self) -> list[str]:
        """The path below the root of what the walk ended on."""
        return [*self.folder, self.name] if self.name else list(self.folder)


def _read_link(name: str, directory_fd: int) -> str | None:
    """The target of the link ``name``, or None if ``name`` is absent or not a link."""
    try:
        return os.readlink(name, dir_fd=directory_fd)
    except OSError as error:
        if error.errno in (errno.EINVAL, errno.ENOENT):
            return None
        raise


def _walk(root: Root, location: Location, names: list[str], *, follow_final: bool, open_final: bool) -> None:
    # '..' only ever comes from a link target (callers refuse it in their own
    # paths). ``folder`` holds the real folders walked, so one step up is the
    # folder above, reopened from the root; above the root is outside.
    pending = deque(name for name in names if name not in ("", "."))
    folder: list[str] = []
    directory = os.dup(root.fd)
    location._owned.append(directory)
    hops = 0

    def enter(new_directory: int) -> None:
        nonlocal directory
        location._owned.remove(directory)
        os.close(directory)
        directory = new_directory
        location._owned.append(directory)

    while pending:
        name = pending.popleft()
        if name == "..":
            if not folder:
                raise LeadsOutside
            folder.pop()
            enter(root.open_folder(folder))
            continue
        is_last = not pending
        if is_last and not follow_final:
            location.directory_fd, location.name, location.folder = directory, name, folder
            return
        if not is_last:
            try:
                child = os.open(name, FOLDER_FLAGS, dir_fd=directory)
            except OSError as error:
                # O_DIRECTORY | O_NOFOLLOW answers ENOTDIR for a link too.
                if error.errno not in (errno.ENOENT, errno.ENOTDIR, errno.ELOOP):
                    raise
                target = _read_link(name, directory)
                if target is None:
                    raise Missing from error
            else:
                enter(child)
                folder.append(name)
                continue
        elif open_final:
            try:
                location.fd = os.open(name, OPEN_FLAGS, dir_fd=directory)
                location._owned.append(location.fd)
                target = None
            except FileNotFoundError:
                target = None
            except OSError as error:
                if error.errno == errno.ENXIO:
                    raise NotOpenable from error
                if error.errno != errno.ELOOP:
                    raise
                # A link. If it is gone again by the time we read it, walk to
                # the same name once more (a hop, so this cannot spin forever).
                target = _read_link(name, directory) or name
        else:
            target = _read_link(name, directory)
        if target is None:
            location.directory_fd, location.name, location.folder = directory, name, folder
            return
        if is_last:
            location.through_link = True
        hops += 1
        if hops > MAX_SYMLINK_HOPS:
            raise TooManyLinks
        if target.startswith("/"):
            inside = root.names_of_absolute(target)
            if inside is None:
                raise LeadsOutside
            folder = []
            enter(os.dup(root.fd))
            target = "/".join(inside)
        pending.extendleft(reversed([name for name in target.split("/") if name not in ("", ".")]))
    # The walk ended on a folder as a whole: the root, or a link's target.
    location.directory_fd, location.name, location.folder = directory, "", folder
    if open_final:
        location.fd = os.dup(directory)
        location._owned.append(location.fd)


@contextmanager
def walk(root: Root, names: list[str], *, follow_final: bool = True, open_final: bool = False) -> Iterator[Location]:
    """Walk ``names`` below ``root``, following links that stay inside, and hold the result open.

    The last name is followed (if it is a link) only with ``follow_final``;
    without it the caller acts on the name itself (delete and move act on a
    link, never its target). With ``open_final`` the last name is opened
    (O_NOFOLLOW) as a step of the walk, so what is opened is what was checked.
    Raises LeadsOutside, Missing, TooManyLinks or NotOpenable.
    """
    location = Location()
    try:
        _walk(root, location, names, follow_final=follow_final, open_final=open_final)
        yield location
    finally:
        for descriptor in location._owned:
            os.close(descriptor)
