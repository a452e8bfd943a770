"""Reading and writing a workspace's files by workspace-relative path.

Every path from a client goes through ``resolve`` before the filesystem is
touched: absolute paths, '..', NUL bytes, over-long names and symlinks that
lead outside the workspace are refused with a clear error. Writes compare the
client's etag with the file on disk under a directory lock and replace the
file atomically, so a stale save never overwrites newer work.
"""

import fcntl
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterable
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

MAX_PATH_CHARS = 1024
MAX_NAME_BYTES = 255
# PATH_MAX, less room for the temporary file that a save writes beside its target.
MAX_HOST_PATH_BYTES = 4096 - 64
BINARY_SNIFF_BYTES = 8192


class FilesError(Exception):
    """A refused file operation; ``status`` is the HTTP status the API answers with."""

    def __init__(self, status: int, code: str, message: str, details: dict | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details or {}


@dataclass(frozen=True)
class ResolvedPath:
    relative: str  # normalised, '' for the root
    absolute: Path  # host path; never shown to clients


def compute_etag(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _is_within(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


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


def resolve(root: Path, relative: object, *, follow_final_symlink: bool = True) -> ResolvedPath:
    """Map a client path to a host path inside ``root``.

    With ``follow_final_symlink`` False (delete, move) the last component may be
    a symlink pointing anywhere: the operation acts on the link itself.
    """
    normalised = normalise(relative)
    real_root = Path(os.path.realpath(root))
    candidate = real_root.joinpath(*normalised.split("/")) if normalised else real_root
    if len(os.fsencode(candidate)) > MAX_HOST_PATH_BYTES:
        # Within MAX_PATH_CHARS but, in UTF-8 under the workspace root, too long for the OS.
        raise FilesError(400, "path_too_long", "The path is too long for the workspace's filesystem.")
    checked = candidate if follow_final_symlink else candidate.parent
    if normalised and not _is_within(Path(os.path.realpath(checked)), real_root):
        raise FilesError(403, "outside_workspace", "The path leads outside the workspace (through a symbolic link).")
    return ResolvedPath(normalised, candidate)


def _displayable(text: str) -> str:
    # Names made outside the API (in the terminal) may not be UTF-8; show them
    # with replacement characters rather than fail the whole listing.
    return os.fsencode(text).decode("utf-8", "replace")


def _entry(resolved_root: Path, path: Path) -> dict:
    stat = path.lstat()
    is_link = path.is_symlink()
    if path.is_dir() and not is_link:
        kind = "directory"
    elif is_link:
        target = Path(os.path.realpath(path))
        inside = _is_within(target, resolved_root) and target.exists()
        kind = ("directory" if target.is_dir() else "file") if inside else "symlink"
    else:
        kind = "file"
    return {
        "name": _displayable(path.name),
        "path": _displayable(path.relative_to(resolved_root).as_posix()),
        "type": kind,
        # A link shown as a file has its target's size, not the link's own length.
        "size": (path.stat() if is_link else stat).st_size if kind == "file" else None,
        "modified": datetime.fromtimestamp(stat.st_mtime, tz=UTC).isoformat(),
        "symlink": is_link,
    }


def list_directory(root: Path, relative: object) -> dict:
    target = resolve(root, relative)
    if not target.absolute.exists():
        raise FilesError(404, "not_found", f"'{target.relative or '/'}' does not exist.")
    if not target.absolute.is_dir():
        raise FilesError(400, "not_a_directory", f"'{target.relative}' is a file, not a folder.")
    real_root = Path(os.path.realpath(root))
    entries = [_entry(real_root, child) for child in target.absolute.iterdir()]
    entries.sort(key=lambda entry: (entry["type"] != "directory", entry["name"].lower()))
    return {"path": target.relative, "entries": entries}


def _require_file(target: ResolvedPath) -> None:
    if not target.absolute.exists():
        raise FilesError(404, "not_found", f"'{target.relative}' does not exist.")
    if not target.absolute.is_file():
        raise FilesError(400, "not_a_file", f"'{target.relative or '/'}' is a folder, not a file.")


def _decode_text(data: bytes, relative: str) -> str:
    if b"\x00" in data[:BINARY_SNIFF_BYTES]:
        raise FilesError(415, "binary_file", f"'{relative}' is a binary file; download it instead.")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise FilesError(415, "binary_file", f"'{relative}' is not UTF-8 text; download it instead.") from error


def _metadata(target: ResolvedPath, etag: str) -> dict:
    stat = target.absolute.stat()
    return {
        "path": target.relative,
        "etag": etag,
        "size": stat.st_size,
        "modified": datetime.fromtimestamp(stat.st_mtime, tz=UTC).isoformat(),
    }


def read_text(root: Path, relative: object, *, max_bytes: int) -> dict:
    target = resolve(root, relative)
    _require_file(target)
    size = target.absolute.stat().st_size
    if size > max_bytes:
        raise FilesError(
            413,
            "file_too_large",
            f"'{target.relative}' is {size} bytes; the editor opens files up to "
            f"{max_bytes} bytes. Download it instead.",
        )
    data = target.absolute.read_bytes()
    content = _decode_text(data, target.relative)
    return _metadata(target, compute_etag(data)) | {"content": content}


@contextmanager
def _directory_lock(directory: Path):
    # flock on the parent directory serialises compare-and-replace across
    # every process of the platform that writes into that folder.
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _atomic_write(path: Path, chunks: Iterable[bytes], mode: int | None) -> None:
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=".devbench-", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            for chunk in chunks:
                handle.write(chunk)
        os.chmod(temporary, mode if mode is not None else 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _require_parent_directory(target: ResolvedPath) -> None:
    if not target.relative:
        raise FilesError(400, "invalid_path", "The workspace root itself cannot be written.")
    if not target.absolute.parent.is_dir():
        raise FilesError(404, "parent_not_found", f"The folder for '{target.relative}' does not exist.")


def write_text(root: Path, relative: object, content: str, expected_etag: str | None, *, max_bytes: int) -> dict:
    """Save ``content`` if the file on disk still has ``expected_etag``.

    ``expected_etag`` None means "create": it fails if the file exists.
    """
    target = resolve(root, relative)
    _require_parent_directory(target)
    try:
        data = content.encode("utf-8")
    except UnicodeEncodeError as error:
        raise FilesError(400, "invalid_content", "The content is not valid Unicode text.") from error
    if len(data) > max_bytes:
        raise FilesError(413, "file_too_large", f"The content is {len(data)} bytes; the limit is {max_bytes} bytes.")
    with _directory_lock(target.absolute.parent):
        exists = target.absolute.exists()
        if exists and not target.absolute.is_file():
            raise FilesError(409, "not_a_file", f"'{target.relative}' is a folder.")
        current_etag = compute_etag(target.absolute.read_bytes()) if exists else None
        if expected_etag != current_etag:
            if current_etag is None:
                message = f"'{target.relative}' was deleted since you opened it."
            elif expected_etag is None:
                message = f"'{target.relative}' already exists."
            else:
                message = f"'{target.relative}' changed on disk since you opened it."
            raise FilesError(409, "conflict", message, {"current_etag": current_etag})
        mode = target.absolute.stat().st_mode & 0o7777 if exists else None
        _atomic_write(target.absolute, [data], mode)
    return _metadata(target, compute_etag(data))


def create(root: Path, relative: object, kind: str) -> dict:
    target = resolve(root, relative)
    _require_parent_directory(target)
    if target.absolute.exists() or target.absolute.is_symlink():
        raise FilesError(409, "exists", f"'{target.relative}' already exists.")
    if kind == "directory":
        target.absolute.mkdir()
    elif kind == "file":
        try:
            with open(target.absolute, "xb"):
                pass
        except FileExistsError as error:
            raise FilesError(409, "exists", f"'{target.relative}' already exists.") from error
    else:
        raise FilesError(400, "invalid_type", "type must be 'file' or 'directory'.")
    return _entry(Path(os.path.realpath(root)), target.absolute)


def move(root: Path, source: object, destination: object) -> dict:
    origin = resolve(root, source, follow_final_symlink=False)
    target = resolve(root, destination, follow_final_symlink=False)
    if not origin.relative:
        raise FilesError(400, "invalid_path", "The workspace root cannot be moved.")
    if not origin.absolute.exists() and not origin.absolute.is_symlink():
        raise FilesError(404, "not_found", f"'{origin.relative}' does not exist.")
    _require_parent_directory(target)
    if target.absolute.exists() or target.absolute.is_symlink():
        raise FilesError(409, "exists", f"'{target.relative}' already exists.")
    # Real paths too: a symlinked folder can hide that the target lies inside the source.
    moves_folder_into_itself = not origin.absolute.is_symlink() and _is_within(
        Path(os.path.realpath(target.absolute.parent)), Path(os.path.realpath(origin.absolute))
    )
    if target.relative.startswith(origin.relative + "/") or moves_folder_into_itself:
        raise FilesError(400, "invalid_move", "A folder cannot be moved into itself.")
    os.rename(origin.absolute, target.absolute)
    return _entry(Path(os.path.realpath(root)), target.absolute)


def delete(root: Path, relative: object, *, recursive: bool) -> str:
    """Delete a file, a symlink (never its target) or a folder; return the kind deleted."""
    target = resolve(root, relative, follow_final_symlink=False)
    if not target.relative:
        raise FilesError(400, "invalid_path", "The workspace root cannot be deleted.")
    path = target.absolute
    if path.is_symlink() or path.is_file():
        path.unlink()
        return "file"
    if not path.exists():
        raise FilesError(404, "not_found", f"'{target.relative}' does not exist.")
    if any(path.iterdir()) and not recursive:
        raise FilesError(409, "not_empty", f"'{target.relative}' is not empty; confirm a recursive delete.")
    shutil.rmtree(path)
    return "directory"


def save_upload(
    root: Path, directory: object, name: str, chunks: Iterable[bytes], size: int, *, max_bytes: int, overwrite: bool
) -> dict:
    if size > max_bytes:
        raise FilesError(413, "file_too_large", f"The upload is {size} bytes; the limit is {max_bytes} bytes.")
    folder = normalise(directory)
    if "/" in name or name in ("", ".", ".."):
        raise FilesError(400, "invalid_name", "The uploaded file needs a plain file name.")
    target = resolve(root, f"{folder}/{name}" if folder else name)
    _require_parent_directory(target)
    with _directory_lock(target.absolute.parent):
        if target.absolute.exists() and not overwrite:
            raise FilesError(409, "exists", f"'{target.relative}' already exists.")
        if target.absolute.exists() and not target.absolute.is_file():
            raise FilesError(409, "not_a_file", f"'{target.relative}' is a folder.")
        _atomic_write(target.absolute, chunks, None)
    return _entry(Path(os.path.realpath(root)), target.absolute)


def open_for_download(root: Path, relative: object):
    target = resolve(root, relative)
    _require_file(target)
    return target.absolute.open("rb"), target.absolute.name
