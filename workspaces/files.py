"""Reading and writing a workspace's files by workspace-relative path.

Every path from a client is checked as text first (``normalise``: absolute
paths, '..', NUL bytes, over-long names are refused), then walked name by name
from a descriptor of the workspace root (``workspaces.beneath``): links that
lead outside the workspace are refused, and every operation acts on the
descriptors the walk opened, so the file used is the file checked. Writes
compare the client's etag with the file on disk under a lock on its folder and
replace the file atomically, so a stale save never overwrites newer work.
"""

import errno
import fcntl
import hashlib
import os
import secrets
import shutil
import stat
import unicodedata
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path

from workspaces import beneath

MAX_PATH_CHARS = 1024
MAX_NAME_BYTES = 255
# PATH_MAX, less room for the temporary file that a save writes beside its target.
# The walk itself has no such limit, but the workspace's own tools (shell,
# runner, language servers) open files by path, so every file the API makes
# must stay reachable that way.
MAX_HOST_PATH_BYTES = 4096 - 64
BINARY_SNIFF_BYTES = 8192
HASH_CHUNK_BYTES = 1 << 20


class FilesError(Exception):
    """A refused file operation; ``status`` is the HTTP status the API answers with."""

    def __init__(self, status: int, code: str, message: str, details: dict | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details or {}


def compute_etag(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def normalise(relative: object) -> str:
    """Validate a client path and return it normalised ('a/b.py'), or raise FilesError."""
    if not isinstance(relative, str):
        raise FilesError(400, "invalid_path", "The path must be a string.")
    if "\x00" in relative:
        raise FilesError(400, "invalid_path", "The path must not contain NUL bytes.")
    if len(relative) > MAX_PATH_CHARS:
        raise FilesError(400, "path_too_long", f"The path is longer than {MAX_PATH_CHARS} characters.")
    if relative.startswith(("/", "~")) or (len(relative) > 1 and relative[1] == ":"):
        raise FilesError(400, "invalid_path", "Use a path relative to the workspace root, not an absolute path.")
    if "\\" in relative:
        raise FilesError(400, "invalid_path", "Use '/' to separate folders; backslashes are not allowed.")
    parts = [part for part in relative.split("/") if part not in ("", ".")]
    for part in parts:
        if part == "..":
            raise FilesError(400, "invalid_path", "The path must not contain '..'.")
        try:
            encoded = part.encode("utf-8")
        except UnicodeEncodeError as error:
            raise FilesError(400, "invalid_path", "The path is not valid UTF-8.") from error
        if len(encoded) > MAX_NAME_BYTES:
            raise FilesError(400, "name_too_long", f"A file or folder name is longer than {MAX_NAME_BYTES} bytes.")
    return "/".join(parts)


def is_control_character(character: str) -> bool:
    """C0 controls, DEL and C1 controls: the characters Unicode files under Cc."""
    return unicodedata.category(character) == "Cc"


def _escaped(name: str) -> str:
    return "".join(f"\\x{ord(c):02x}" if is_control_character(c) else c for c in name)


def refuse_control_characters(name: str) -> None:
    """Refuse a name the API is about to create if it holds control characters.

    A tab, a line break or an escape sequence in a file name breaks shells,
    terminals and logs that show it. Names already on disk (made in the
    terminal) stay readable, movable and deletable; only new names are checked.
    """
    if any(is_control_character(character) for character in name):
        raise FilesError(
            400,
            "invalid_name",
            f"'{_escaped(name)}': file and folder names must not contain control characters "
            "(such as tabs, line breaks or escape codes).",
            {"name": _escaped(name)},
        )


def _last_name(normalised: str) -> str:
    return normalised.rsplit("/", 1)[-1]


@contextmanager
def _workspace(root: Path) -> Iterator[beneath.Root]:
    """The workspace root held open for one operation."""
    try:
        opened = beneath.Root(root)
    except FileNotFoundError as error:
        raise FilesError(404, "not_found", "The workspace's folder is missing; an owner can reprovision it.") from error
    with opened:
        yield opened


@contextmanager
def _locate(
    root: beneath.Root,
    normalised: str,
    *,
    follow_final: bool = True,
    open_final: bool = False,
    missing: str = "not_found",
) -> Iterator[beneath.Location]:
    """Walk a normalised client path (see ``beneath.walk``), answering refusals as FilesError.

    ``missing`` names the error for a folder on the way that is not there.
    """
    if len(os.fsencode(os.path.join(root.real_path, normalised))) > MAX_HOST_PATH_BYTES:
        # Within MAX_PATH_CHARS but, in UTF-8 under the workspace root, too long for the OS.
        raise FilesError(400, "path_too_long", "The path is too long for the workspace's filesystem.")
    names = normalised.split("/") if normalised else []
    try:
        with beneath.walk(root, names, follow_final=follow_final, open_final=open_final) as location:
            yield location
    except beneath.LeadsOutside as error:
        raise FilesError(
            403, "outside_workspace", "The path leads outside the workspace (through a symbolic link)."
        ) from error
    except beneath.TooManyLinks as error:
        raise FilesError(
            400, "invalid_path", f"'{normalised}' goes through too many symbolic links (or a loop)."
        ) from error
    except beneath.NotOpenable as error:
        raise FilesError(409, "not_a_file", f"'{normalised}' is not a regular file.") from error
    except beneath.Missing as error:
        if missing == "parent_not_found":
            raise FilesError(404, "parent_not_found", f"The folder for '{normalised}' does not exist.") from error
        raise FilesError(404, "not_found", f"'{normalised or '/'}' does not exist.") from error


@contextmanager
def locate(root: Path, relative: object, *, follow_final_symlink: bool = True) -> Iterator[beneath.Location]:
    """Walk a client path to an open folder inside ``root`` and a name in it.

    With ``follow_final_symlink`` False (delete, move) the last name may be a
    link pointing anywhere: the operation acts on the link itself.
    """
    normalised = normalise(relative)
    with (
        _workspace(root) as opened,
        _locate(opened, normalised, follow_final=follow_final_symlink) as location,
    ):
        yield location


# --- entries and metadata -------------------------------------------------------------------------


def _displayable(text: str) -> str:
    # Names made outside the API (in the terminal) may not be UTF-8; show them
    # with replacement characters rather than fail the whole listing.
    return os.fsencode(text).decode("utf-8", "replace")


def _modified(status: os.stat_result) -> str:
    return datetime.fromtimestamp(status.st_mtime, tz=UTC).isoformat()


def _link_target_status(root: beneath.Root, names: list[str]) -> os.stat_result | None:
    """What the link at ``names`` leads to, if it stays inside the workspace and exists."""
    try:
        with beneath.walk(root, names) as location:
            if not location.name:
                return os.fstat(location.directory_fd)
            status = os.stat(location.name, dir_fd=location.directory_fd, follow_symlinks=False)
    except (beneath.LeadsOutside, beneath.Missing, beneath.TooManyLinks, FileNotFoundError, NotADirectoryError):
        return None
    return None if stat.S_ISLNK(status.st_mode) else status


def _entry(root: beneath.Root, directory_fd: int, folder: list[str], name: str, relative: str) -> dict:
    """The entry for ``name`` in the open folder ``directory_fd`` (inside-the-workspace path ``folder``),
    shown at the client path ``relative``."""
    own = os.stat(name, dir_fd=directory_fd, follow_symlinks=False)
    is_link = stat.S_ISLNK(own.st_mode)
    shown = own
    if is_link:
        target = _link_target_status(root, [*folder, name])
        kind = "symlink" if target is None else "directory" if stat.S_ISDIR(target.st_mode) else "file"
        shown = target or own
    else:
        kind = "directory" if stat.S_ISDIR(own.st_mode) else "file"
    return {
        "name": _displayable(_last_name(relative)),
        "path": _displayable(relative),
        "type": kind,
        # A link shown as a file has its target's size, not the link's own length.
        "size": shown.st_size if kind == "file" else None,
        "modified": _modified(own),
        "symlink": is_link,
    }


def _entry_at(root: beneath.Root, location: beneath.Location, relative: str) -> dict:
    return _entry(root, location.directory_fd, location.folder, location.name, relative)


def _metadata(relative: str, etag: str, status: os.stat_result) -> dict:
    return {"path": relative, "etag": etag, "size": status.st_size, "modified": _modified(status)}


def list_directory(root: Path, relative: object) -> dict:
    normalised = normalise(relative)
    with _workspace(root) as opened, _locate(opened, normalised, open_final=True) as location:
        if location.fd is None:
            raise FilesError(404, "not_found", f"'{normalised or '/'}' does not exist.")
        if not stat.S_ISDIR(os.fstat(location.fd).st_mode):
            raise FilesError(409, "not_a_directory", f"'{normalised}' is a file, not a folder.")
        entries = []
        for name in os.listdir(location.fd):
            try:
                entries.append(
                    _entry(opened, location.fd, location.target, name, f"{normalised}/{name}" if normalised else name)
                )
            except FileNotFoundError:
                continue  # deleted while we listed
    entries.sort(key=lambda entry: (entry["type"] != "directory", entry["name"].lower()))
    return {"path": normalised, "entries": entries}


# --- reading --------------------------------------------------------------------------------------


@contextmanager
def _existing_file(root: Path, relative: object) -> Iterator[tuple[str, int, os.stat_result]]:
    """The regular file at a client path, opened: (normalised path, descriptor, its status)."""
    normalised = normalise(relative)
    with _workspace(root) as opened, _locate(opened, normalised, open_final=True) as location:
        if location.fd is None:
            raise FilesError(404, "not_found", f"'{normalised}' does not exist.")
        status = os.fstat(location.fd)
        if stat.S_ISDIR(status.st_mode):
            raise FilesError(409, "not_a_file", f"'{normalised or '/'}' is a folder, not a file.")
        if not stat.S_ISREG(status.st_mode):
            raise FilesError(409, "not_a_file", f"'{normalised}' is not a regular file.")
        yield normalised, location.fd, status


def _read_up_to(descriptor: int, limit: int) -> bytes:
    """The file's bytes, or its first ``limit + 1`` if it is longer (it may grow after the stat)."""
    chunks, total = [], 0
    while total <= limit and (chunk := os.read(descriptor, min(HASH_CHUNK_BYTES, limit + 1 - total))):
        chunks.append(chunk)
        total += len(chunk)
    return b"".join(chunks)


def _decode_text(data: bytes, relative: str) -> str:
    if b"\x00" in data[:BINARY_SNIFF_BYTES]:
        raise FilesError(415, "binary_file", f"'{relative}' is a binary file; download it instead.")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise FilesError(415, "binary_file", f"'{relative}' is not UTF-8 text; download it instead.") from error


def read_text(root: Path, relative: object, *, max_bytes: int) -> dict:
    with _existing_file(root, relative) as (normalised, descriptor, status):
        if status.st_size > max_bytes:
            raise FilesError(
                413,
                "file_too_large",
                f"'{normalised}' is {status.st_size} bytes; the editor opens files up to "
                f"{max_bytes} bytes. Download it instead.",
            )
        data = _read_up_to(descriptor, max_bytes)
    if len(data) > max_bytes:  # grew between the stat and the read
        raise FilesError(413, "file_too_large", f"'{normalised}' is over {max_bytes} bytes. Download it instead.")
    content = _decode_text(data, normalised)
    return _metadata(normalised, compute_etag(data), status) | {"content": content}


def existing_file(root: Path, relative: object) -> str:
    """The normalised path of a regular file inside the workspace (links inside followed), or FilesError."""
    with _existing_file(root, relative) as (normalised, _, _):
        return normalised


def real_path_of(root: Path, relative: object) -> tuple[str, bool]:
    """Where an existing file or folder at a client path really is, and whether it is a folder.

    The path below the root after following the links inside it ('' for the
    root), so a tool handed it meets no link of ours on the way; a link
    leading outside is refused like everywhere else.
    """
    normalised = normalise(relative)
    with _workspace(root) as opened, _locate(opened, normalised, open_final=True) as location:
        if location.fd is None:
            raise FilesError(404, "not_found", f"'{normalised or '/'}' does not exist.")
        mode = os.fstat(location.fd).st_mode
        if not stat.S_ISDIR(mode) and not stat.S_ISREG(mode):
            raise FilesError(400, "not_a_file", f"'{normalised}' is not a regular file or a folder.")
        return "/".join(location.target), stat.S_ISDIR(mode)


def open_for_download(root: Path, relative: object):
    """The file at a client path opened for reading (the caller closes it), and its name."""
    with _existing_file(root, relative) as (normalised, descriptor, _):
        # A descriptor of our own: the walk's are closed when this block ends.
        return os.fdopen(os.dup(descriptor), "rb"), _last_name(normalised)


# --- writing --------------------------------------------------------------------------------------


@contextmanager
def _folder_lock(directory_fd: int):
    # flock on the folder serialises compare-and-replace across every process
    # of the platform that writes into it. Its own open file description, so
    # two requests of one process exclude each other as well.
    descriptor = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=directory_fd)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(descriptor, fcntl.LOCK_UN)
        os.close(descriptor)


@contextmanager
def _write_target(root: beneath.Root, normalised: str) -> Iterator[beneath.Location]:
    """Locate the file a save, create or upload writes: its folder must exist; a link inside is followed."""
    if not normalised:
        raise FilesError(400, "invalid_path", "The workspace root itself cannot be written.")
    with _locate(root, normalised, missing="parent_not_found") as location:
        yield location


def _current_etag(location: beneath.Location, relative: str) -> tuple[str | None, int | None]:
    """The etag and mode of the file being replaced, (None, None) if there is none."""
    try:
        descriptor = os.open(location.name, beneath.OPEN_FLAGS, dir_fd=location.directory_fd)
    except FileNotFoundError:
        return None, None
    except OSError as error:
        if error.errno == errno.ELOOP:
            # The walk saw no link here a moment ago: someone is changing it now.
            raise FilesError(
                409,
                "conflict",
                f"'{relative}' changed on disk while it was being saved; try again.",
                {"current_etag": None},
            ) from error
        if error.errno == errno.ENXIO:  # a socket
            raise FilesError(409, "not_a_file", f"'{relative}' is not a regular file.") from error
        raise
    try:
        status = os.fstat(descriptor)
        if stat.S_ISDIR(status.st_mode):
            raise FilesError(409, "not_a_file", f"'{relative}' is a folder.")
        if not stat.S_ISREG(status.st_mode):
            raise FilesError(409, "not_a_file", f"'{relative}' is not a regular file.")
        digest = hashlib.sha256()
        while chunk := os.read(descriptor, HASH_CHUNK_BYTES):
            digest.update(chunk)
        return digest.hexdigest(), stat.S_IMODE(status.st_mode)
    finally:
        os.close(descriptor)


def _atomic_write(
    location: beneath.Location, relative: str, chunks: Iterable[bytes], mode: int | None
) -> os.stat_result:
    """Write a temporary file beside the target and rename it over the target: readers see old or new, whole.

    Both names are taken relative to the folder's descriptor: the rename
    replaces whatever is at the name (a link included) and never writes
    through it. Answers the status of the file written.
    """
    directory_fd = location.directory_fd
    for _ in range(100):
        temporary = f".devbench-{secrets.token_hex(8)}.tmp"
        try:
            descriptor = os.open(
                temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600,
                dir_fd=directory_fd,
            )  # fmt: skip
            break
        except FileExistsError:
            continue
    else:
        raise FileExistsError(errno.EEXIST, "no free temporary file name", temporary)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            for chunk in chunks:
                handle.write(chunk)
            handle.flush()
            os.fchmod(handle.fileno(), mode if mode is not None else 0o644)
            written = os.fstat(handle.fileno())
        try:
            os.replace(temporary, location.name, src_dir_fd=directory_fd, dst_dir_fd=directory_fd)
        except OSError as error:
            if error.errno in (errno.EISDIR, errno.ENOTEMPTY, errno.EEXIST, errno.ENOTDIR):
                raise FilesError(409, "not_a_file", f"'{relative}' is a folder.") from error
            raise
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(temporary, dir_fd=directory_fd)
        raise
    return written


def write_text(root: Path, relative: object, content: str, expected_etag: str | None, *, max_bytes: int) -> dict:
    """Save ``content`` if the file on disk still has ``expected_etag``.

    ``expected_etag`` None means "create": it fails if the file exists.
    Through a link that stays inside the workspace, the file it points to is
    saved and the link kept.
    """
    normalised = normalise(relative)
    if normalised and expected_etag is None:
        refuse_control_characters(_last_name(normalised))
    with _workspace(root) as opened, _write_target(opened, normalised) as target:
        if not target.name:
            raise FilesError(409, "not_a_file", f"'{normalised}' is a folder.")
        try:
            data = content.encode("utf-8")
        except UnicodeEncodeError as error:
            raise FilesError(400, "invalid_content", "The content is not valid Unicode text.") from error
        if len(data) > max_bytes:
            raise FilesError(
                413, "file_too_large", f"The content is {len(data)} bytes; the limit is {max_bytes} bytes."
            )
        with _folder_lock(target.directory_fd):
            current_etag, mode = _current_etag(target, normalised)
            if expected_etag != current_etag:
                if current_etag is None:
                    message = f"'{normalised}' was deleted since you opened it."
                elif expected_etag is None:
                    message = f"'{normalised}' already exists."
                else:
                    message = f"'{normalised}' changed on disk since you opened it."
                raise FilesError(409, "conflict", message, {"current_etag": current_etag})
            written = _atomic_write(target, normalised, [data], mode)
    return _metadata(normalised, compute_etag(data), written)


def create(root: Path, relative: object, kind: str) -> dict:
    normalised = normalise(relative)
    if kind not in ("file", "directory"):
        raise FilesError(400, "invalid_type", "type must be 'file' or 'directory'.")
    if normalised:
        refuse_control_characters(_last_name(normalised))
    with _workspace(root) as opened, _write_target(opened, normalised) as target:
        if target.through_link or not target.name:
            raise FilesError(409, "exists", f"'{normalised}' already exists.")
        try:
            if kind == "directory":
                os.mkdir(target.name, dir_fd=target.directory_fd)
            else:
                # O_EXCL: fails on any existing name, a dangling link included.
                flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
                os.close(os.open(target.name, flags, 0o666, dir_fd=target.directory_fd))
        except FileExistsError as error:
            raise FilesError(409, "exists", f"'{normalised}' already exists.") from error
        return _entry_at(opened, target, normalised)


def move(root: Path, source: object, destination: object) -> dict:
    origin_path = normalise(source)
    target_path = normalise(destination)
    if not origin_path:
        raise FilesError(400, "invalid_path", "The workspace root cannot be moved.")
    if target_path:
        refuse_control_characters(_last_name(target_path))
    with (
        _workspace(root) as opened,
        _locate(opened, origin_path, follow_final=False) as origin,
        _locate(opened, target_path, follow_final=False, missing="parent_not_found") as target,
    ):
        try:
            origin_status = os.stat(origin.name, dir_fd=origin.directory_fd, follow_symlinks=False)
        except FileNotFoundError as error:
            raise FilesError(404, "not_found", f"'{origin_path}' does not exist.") from error
        if not target_path:
            raise FilesError(400, "invalid_path", "The workspace root itself cannot be written.")
        with _folder_lock(target.directory_fd):
            try:
                os.stat(target.name, dir_fd=target.directory_fd, follow_symlinks=False)
            except FileNotFoundError:
                pass
            else:
                raise FilesError(409, "exists", f"'{target_path}' already exists.")
            # Real folders too: a symlinked folder can hide that the target lies inside the source.
            moves_folder_into_itself = stat.S_ISDIR(origin_status.st_mode) and (
                target.folder[: len(origin.target)] == origin.target
            )
            if target_path.startswith(origin_path + "/") or moves_folder_into_itself:
                raise FilesError(400, "invalid_move", "A folder cannot be moved into itself.")
            try:
                os.rename(origin.name, target.name, src_dir_fd=origin.directory_fd, dst_dir_fd=target.directory_fd)
            except FileNotFoundError as error:
                raise FilesError(404, "not_found", f"'{origin_path}' does not exist.") from error
            except OSError as error:
                if error.errno == errno.EINVAL:  # the kernel's own into-itself check
                    raise FilesError(400, "invalid_move", "A folder cannot be moved into itself.") from error
                raise
        return _entry_at(opened, target, target_path)


def delete(root: Path, relative: object, *, recursive: bool) -> str:
    """Delete a file, a symlink (never its target) or a folder; return the kind deleted."""
    normalised = normalise(relative)
    if not normalised:
        raise FilesError(400, "invalid_path", "The workspace root cannot be deleted.")
    with _workspace(root) as opened, _locate(opened, normalised, follow_final=False) as target:
        name, directory_fd = target.name, target.directory_fd
        try:
            status = os.stat(name, dir_fd=directory_fd, follow_symlinks=False)
        except FileNotFoundError as error:
            raise FilesError(404, "not_found", f"'{normalised}' does not exist.") from error
        if not stat.S_ISDIR(status.st_mode):
            try:
                os.unlink(name, dir_fd=directory_fd)
            except IsADirectoryError as error:  # became a folder since the stat
                raise FilesError(
                    409, "conflict", f"'{normalised}' changed while it was being deleted; try again."
                ) from error
            return "file"
        changed = FilesError(409, "conflict", f"'{normalised}' changed while it was being deleted; try again.")
        try:
            folder = os.open(name, beneath.FOLDER_FLAGS, dir_fd=directory_fd)
        except OSError as error:
            raise changed from error
        try:
            is_empty = not os.listdir(folder)
        finally:
            os.close(folder)
        if not is_empty and not recursive:
            raise FilesError(409, "not_empty", f"'{normalised}' is not empty; confirm a recursive delete.")
        try:
            # With dir_fd, rmtree works on descriptors and checks that each
            # folder it enters is the one it looked at, so a link swapped in is
            # refused rather than followed.
            shutil.rmtree(name, dir_fd=directory_fd)
        except OSError as error:
            raise changed from error
        return "directory"


def save_upload(
    root: Path, directory: object, name: str, chunks: Iterable[bytes], size: int, *, max_bytes: int, overwrite: bool
) -> dict:
    if size > max_bytes:
        raise FilesError(413, "file_too_large", f"The upload is {size} bytes; the limit is {max_bytes} bytes.")
    folder = normalise(directory)
    if "/" in name or name in ("", ".", ".."):
        raise FilesError(400, "invalid_name", "The uploaded file needs a plain file name.")
    refuse_control_characters(name)
    normalised = normalise(f"{folder}/{name}" if folder else name)
    with _workspace(root) as opened, _write_target(opened, normalised) as target:
        if not target.name:
            raise FilesError(409, "not_a_file", f"'{normalised}' is a folder.")
        with _folder_lock(target.directory_fd):
            try:
                existing = os.stat(target.name, dir_fd=target.directory_fd, follow_symlinks=False)
            except FileNotFoundError:
                existing = None
            if existing is not None and not overwrite:
                raise FilesError(409, "exists", f"'{normalised}' already exists.")
            if existing is not None and stat.S_ISDIR(existing.st_mode):
                raise FilesError(409, "not_a_file", f"'{normalised}' is a folder.")
            _atomic_write(target, normalised, chunks, None)
        return _entry_at(opened, target, normalised)
