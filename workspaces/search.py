"""Finding files and text in a workspace: quick open's file list and search across files.

Both run ripgrep (Debian's ``ripgrep``) through the workspace's runtime, so it
reads the workspace the way the workspace's own processes do: inside the
sandbox, seeing /workspace and nothing of the platform. Why ripgrep rather
than a walk in Python: it honours .gitignore files as git does (nested ones,
negations), never follows symbolic links while it walks, skips binary files,
and its regex engine does not backtrack, so no pattern makes it take
exponential time. A pattern can still be costly (a counted repetition compiles
into a large automaton), so the compiled size is bounded and every run has a
deadline after which the process is killed and the matches found so far are
returned.

Paths: the client's ``path`` is walked by the files layer first (links inside
followed, links outside refused), and ripgrep is handed the real folder or
file below the workspace root, relative to the root it runs in, so the
workspace's own ignore files apply from the root down.
"""

import asyncio
import base64
import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from workspaces import files
from workspaces.runtime.base import SYSTEM_PATH, WorkspaceRuntime
from workspaces.runtime.sandbox import SandboxUnavailableError

# Never listed nor searched: version control, environments, dependencies, caches.
SKIPPED_FOLDERS = (".git", ".venv", "node_modules", "__pycache__")
# ripgrep's limit on a compiled pattern (its default is 10M). A search pattern a
# person types needs far less; a pattern like (?:a|b){1000}{100} needs more and
# would otherwise run for tens of seconds per long line.
REGEX_SIZE_LIMIT = "1M"
MAX_QUERY_CHARS = 1000
DEFAULT_MAX_RESULTS = 500
# What a match shows of its line: some context before it, the match, the rest.
PREVIEW_BEFORE_CHARS = 40
PREVIEW_CHARS = 240
STDERR_LIMIT_BYTES = 16 * 1024
READ_CHUNK_BYTES = 64 * 1024
STOP_GRACE_SECONDS = 1.0


class SearchError(Exception):
    """A search that cannot run as asked; ``status`` is the HTTP status the API answers with."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Scope:
    """What to search: the whole workspace, or one real folder or file below its root."""

    path: str = ""  # below the root, links resolved; "" is the root
    is_folder: bool = True

    def argument(self) -> str:
        return f"./{self.path}" if self.path else "."


def scope_for(root: Path, relative: object) -> Scope:
    """The scope of a client path (files.FilesError if it is invalid, missing or leads outside)."""
    path, is_folder = files.real_path_of(root, relative)
    return Scope(path, is_folder)


def ripgrep() -> str:
    """The ripgrep program as workspace processes see it (on the system PATH), or SearchError."""
    found = shutil.which("rg", path=SYSTEM_PATH)
    if found is None:
        raise SearchError(
            503,
            "search_unavailable",
            "Search needs ripgrep on the server, which is not installed (apt-get install ripgrep; "
            "scripts/setup.sh does it as root).",
        )
    return found


def _common_arguments() -> list[str]:
    arguments = [
        "--no-config",  # no RIPGREP_CONFIG_PATH can change what we parse
        # .gitignore applies whether or not the workspace is a git repository yet.
        "--no-require-git",
        "--no-ignore-global",
        "--hidden",  # dotfiles (.env, .github/...) are files people open too
        "--sort=path",  # the same order every time, so a cut-short answer is stable
        # Each line as it is found: a run stopped at its deadline still hands over what it found.
        "--line-buffered",
    ]
    for folder in SKIPPED_FOLDERS:
        arguments.append(f"--glob=!{folder}")
    return arguments


def list_arguments(scope: Scope = Scope()) -> list[str]:
    return [*_common_arguments(), "--files", "--", scope.argument()]


def search_arguments(
    scope: Scope, pattern: str, *, regex: bool, match_case: bool, max_results: int, max_file_bytes: int
) -> list[str]:
    return [
        *_common_arguments(),
        "--json",
        "--no-messages",  # unreadable files are skipped quietly; pattern errors are still reported
        f"--max-filesize={max_file_bytes}",
        # Bounds the output per file; the total is bounded by stopping the process.
        f"--max-count={max_results + 1}",
        f"--regex-size-limit={REGEX_SIZE_LIMIT}",
        "--case-sensitive" if match_case else "--ignore-case",
        *([] if regex else ["--fixed-strings"]),
        "--regexp",
        pattern,
        "--",
        scope.argument(),
    ]


def check_pattern(pattern: str) -> None:
    """Refuse what no single-line search can mean, before anything runs."""
    if not pattern:
        raise SearchError(400, "invalid", "q: Type something to search for.")
    if len(pattern) > MAX_QUERY_CHARS:
        raise SearchError(400, "invalid", f"q: The search is longer than {MAX_QUERY_CHARS} characters.")
    if "\x00" in pattern or "\n" in pattern or "\r" in pattern:
        raise SearchError(400, "invalid", "q: Search one line at a time: line breaks and NUL are not allowed.")


# --- ripgrep's output -----------------------------------------------------------------------------


def _data_bytes(value: dict) -> bytes:
    """ripgrep's JSON "arbitrary data": text, or base64 bytes when it is not UTF-8."""
    if "text" in value:
        return value["text"].encode("utf-8", "surrogatepass")
    return base64.b64decode(value.get("bytes", ""))


def _client_path(printed: bytes) -> str:
    """A path ripgrep printed ("./a/b.py") as a workspace-relative path for the client."""
    if printed.startswith(b"./"):
        printed = printed[2:]
    # Names made in the terminal may not be UTF-8; show them as the file tree does.
    return printed.decode("utf-8", "replace")


def _utf16_length(text: str) -> int:
    # Editors (Monaco) count columns in UTF-16 code units.
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _preview(line: str, start: int, end: int) -> dict:
    """The match with some of its line around it, cut to PREVIEW_CHARS; offsets in characters."""
    first = max(0, start - PREVIEW_BEFORE_CHARS)
    before = line[first:start]
    if first > 0:
        before = "…" + before.lstrip()
    match = line[start:end][:PREVIEW_CHARS]
    after = line[end : end + max(0, PREVIEW_CHARS - len(before) - len(match))]
    return {"before": before, "match": match, "after": after}


def matches_of(event: dict) -> list[dict]:
    """The matches of one ripgrep "match" message, one per match on the line."""
    data = event["data"]
    raw = _data_bytes(data["lines"])
    line = raw.decode("utf-8", "replace").rstrip("\r\n")
    found = []
    for submatch in data.get("submatches", []):
        # ripgrep counts bytes; the client counts characters (and Monaco UTF-16 units).
        start = len(raw[: submatch["start"]].decode("utf-8", "replace"))
        end = len(raw[: submatch["end"]].decode("utf-8", "replace"))
        end = min(end, len(line))
        start = min(start, end)
        found.append(
            {
                "line": data["line_number"],
                "column": _utf16_length(line[:start]) + 1,
                "end_column": _utf16_length(line[:end]) + 1,
                **_preview(line, start, end),
            }
        )
    return found


# --- running ripgrep ------------------------------------------------------------------------------


@dataclass
class _Finished:
    returncode: int | None
    stderr: str
    timed_out: bool


def _environment() -> dict[str, str]:
    # Nothing of the platform's environment; HOME is the sandbox's private /tmp.
    return {"PATH": SYSTEM_PATH, "LANG": "C.UTF-8", "HOME": "/tmp"}  # noqa: S108 - no file is written there


async def _run(
    runtime: WorkspaceRuntime,
    workspace_id: int,
    arguments: list[str],
    *,
    timeout: float,
    max_line_bytes: int,
    on_line: Callable[[bytes], bool],
) -> _Finished:
    """Run ripgrep at the workspace root, handing each output line to ``on_line`` until it returns False.

    The process is stopped (and reaped) once ``on_line`` has enough, or when
    ``timeout`` seconds have passed; lines longer than ``max_line_bytes`` are
    dropped rather than held in memory.
    """
    program = ripgrep()
    try:
        process = await runtime.spawn(workspace_id, [program, *arguments], tty=False, env=_environment())
    except SandboxUnavailableError as error:
        raise SearchError(503, "search_unavailable", f"Workspace processes cannot start here: {error}") from error
    except FileNotFoundError as error:
        raise SearchError(503, "search_unavailable", f"Search cannot run: {error}") from error
    process.close_stdin()
    stderr = bytearray()

    async def read_stderr() -> None:
        while chunk := await process.read(READ_CHUNK_BYTES, "stderr"):
            stderr.extend(chunk[: max(0, STDERR_LIMIT_BYTES - len(stderr))])

    async def read_stdout() -> None:
        pending = bytearray()
        dropping = False
        while chunk := await process.read(READ_CHUNK_BYTES, "stdout"):
            pending.extend(chunk)
            while (newline := pending.find(b"\n")) != -1:
                line = bytes(pending[:newline])
                del pending[: newline + 1]
                if dropping:
                    dropping = False
                    continue
                if not on_line(line):
                    return
            if len(pending) > max_line_bytes:
                pending.clear()
                dropping = True

    stderr_reader = asyncio.ensure_future(read_stderr())
    timed_out = False
    try:
        await asyncio.wait_for(read_stdout(), timeout)
    except TimeoutError:
        timed_out = True
    finally:
        # Enough, out of time, or the request went away: a finished process is
        # only reaped, a running one is stopped. Either way nothing is left behind.
        await process.terminate(STOP_GRACE_SECONDS)
        try:
            await asyncio.wait_for(stderr_reader, STOP_GRACE_SECONDS)
        except TimeoutError:
            stderr_reader.cancel()
    return _Finished(process.returncode, stderr.decode("utf-8", "replace"), timed_out)


def _first_paragraph(text: str) -> str:
    # ripgrep adds advice meant for its command line (--pcre2, -U) after a blank line.
    return text.strip().split("\n\n", 1)[0].strip()


async def list_files(runtime: WorkspaceRuntime, workspace_id: int, *, max_files: int, timeout: float) -> dict:
    """Every file of the workspace quick open may offer, in path order: ``{files, truncated}``.

    ``truncated`` says the list stopped at ``max_files`` or at the deadline.
    """
    found: list[str] = []
    truncated = False

    def take(line: bytes) -> bool:
        nonlocal truncated
        if len(found) >= max_files:
            truncated = True
            return False
        if line:
            found.append(_client_path(line))
        return True

    finished = await _run(
        runtime, workspace_id, list_arguments(), timeout=timeout, max_line_bytes=64 * 1024, on_line=take
    )
    return {"files": found, "truncated": truncated or finished.timed_out}


async def search_text(
    runtime: WorkspaceRuntime,
    workspace_id: int,
    scope: Scope,
    pattern: str,
    *,
    regex: bool,
    match_case: bool,
    max_results: int,
    max_file_bytes: int,
    timeout: float,
) -> dict:
    """Lines matching ``pattern`` in the scope, grouped by file in path order.

    ``{files: [{path, matches: [{line, column, end_column, before, match, after}]}],
    match_count, file_count, truncated, timed_out, elapsed_ms}``; columns are
    1-based, in UTF-16 code units (as editors count them). ``truncated`` says
    there were more than ``max_results`` matches. A pattern ripgrep cannot
    compile raises SearchError 400 ``invalid_regex``.
    """
    check_pattern(pattern)
    started = time.monotonic()
    groups: dict[str, list[dict]] = {}
    count = 0
    truncated = False

    def take(line: bytes) -> bool:
        nonlocal count, truncated
        try:
            event = json.loads(line)
        except ValueError:
            return True
        if event.get("type") != "match":
            return True
        path = _client_path(_data_bytes(event["data"]["path"]))
        for match in matches_of(event):
            if count >= max_results:
                truncated = True
                return False
            groups.setdefault(path, []).append(match)
            count += 1
        return True

    arguments = search_arguments(
        scope, pattern, regex=regex, match_case=match_case, max_results=max_results, max_file_bytes=max_file_bytes
    )
    # A JSON line holds one line of a file, escaped: up to six bytes for one.
    finished = await _run(
        runtime,
        workspace_id,
        arguments,
        timeout=timeout,
        max_line_bytes=6 * max_file_bytes + 64 * 1024,
        on_line=take,
    )
    # Exit code 2 with nothing found and a message: ripgrep refused the pattern
    # (file errors are silenced by --no-messages).
    if finished.returncode == 2 and count == 0 and finished.stderr.strip() and not finished.timed_out:
        message = _first_paragraph(finished.stderr)
        if regex:
            raise SearchError(400, "invalid_regex", f"This regular expression cannot be used: {message}")
        raise SearchError(400, "invalid", f"q: ripgrep refused the search: {message}")
    return {
        "files": [{"path": path, "matches": matches} for path, matches in groups.items()],
        "match_count": count,
        "file_count": len(groups),
        "truncated": truncated,
        "timed_out": finished.timed_out,
        "elapsed_ms": round((time.monotonic() - started) * 1000),
    }
