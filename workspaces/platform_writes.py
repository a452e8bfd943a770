"""Files the platform itself writes into a workspace (the shell's rc file, the runner), without following links.

Everything in a workspace may be replaced by its own processes at any moment,
links included, and the platform writes with more rights than they have (as
root, outside any sandbox). So a folder or file on the way that is a symbolic
link is refused rather than followed: each folder is opened with
``O_NOFOLLOW`` relative to the previous one, and the file is written under a
fresh name (``O_EXCL``) and renamed over the target, which replaces a link
instead of writing through it.
"""

import contextlib
import os
import secrets
import stat
from pathlib import Path, PurePosixPath

_DIRECTORY_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class UnsafeWorkspacePath(OSError):
    """A folder on the way is a link or not a folder; nothing was written."""


def _open_directories(root: Path, parts: tuple[str, ...], *, create: bool) -> int:
    """A descriptor of root/parts..., each step opened without following links."""
    descriptor = os.open(root, _DIRECTORY_FLAGS)
    try:
        for part in parts:
            if part in ("", ".", ".."):
                raise UnsafeWorkspacePath(f"{part!r} is not a folder name.")
            if create:
                with contextlib.suppress(FileExistsError):
                    os.mkdir(part, 0o755, dir_fd=descriptor)
            try:
                child = os.open(part, _DIRECTORY_FLAGS, dir_fd=descriptor)
            except OSError as error:
                raise UnsafeWorkspacePath(f"{part} is not a folder (or is a link): {error.strerror}") from error
            os.close(descriptor)
            descriptor = child
    except BaseException:
        os.close(descriptor)
        raise
    return descriptor


def make_directories(root: Path, relative: str) -> None:
    """Create root/relative and its parents where missing; a link on the way raises ``UnsafeWorkspacePath``."""
    os.close(_open_directories(Path(root), PurePosixPath(relative).parts, create=True))


def write_file(root: Path, relative: str, content: bytes, mode: int = 0o644) -> None:
    """Write root/relative atomically, creating its folders; a link on the way raises ``UnsafeWorkspacePath``."""
    *folders, name = PurePosixPath(relative).parts
    directory = _open_directories(Path(root), tuple(folders), create=True)
    try:
        temporary = f".{name}.{secrets.token_hex(8)}.tmp"
        handle = os.open(
            temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode, dir_fd=directory
        )
        try:
            with os.fdopen(handle, "wb") as stream:
                stream.write(content)
                os.fchmod(stream.fileno(), mode)
            os.replace(temporary, name, src_dir_fd=directory, dst_dir_fd=directory)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary, dir_fd=directory)
            raise
    finally:
        os.close(directory)


def read_file(root: Path, relative: str, max_bytes: int) -> bytes | None:
    """The content of a regular file root/relative (at most ``max_bytes``), or None if it is missing or not one."""
    *folders, name = PurePosixPath(relative).parts
    try:
        directory = _open_directories(Path(root), tuple(folders), create=False)
    except OSError:
        return None
    try:
        handle = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=directory)
    except OSError:
        return None
    finally:
        os.close(directory)
    with os.fdopen(handle, "rb") as stream:
        if not stat.S_ISREG(os.fstat(stream.fileno()).st_mode):
            return None
        return stream.read(max_bytes)
