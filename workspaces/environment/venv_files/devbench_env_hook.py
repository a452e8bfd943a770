"""Devbench environment hook: notices every pip run in this workspace's virtualenv.

The platform copies this file into the venv's site-packages together with
``devbench_env_hook.pth`` (one line: ``import devbench_env_hook``), so every
interpreter of the venv imports it at start-up. Importing it only puts a tiny
finder at the front of ``sys.meta_path``; the finder ignores every import but
``pip._internal.cli.main``, the module all three entry points (``pip``,
``pip3``, ``python -m pip``) end in, and wraps that module's ``cli`` and
``main`` functions.

After pip's own function has run, the wrapper
- writes ``<workspace>/.devbench/env_meta.json`` if the installed packages changed, and
- writes one JSON log per call into ``<workspace>/.pip-logs/`` and prunes old ones.

Rules for this file: it runs in the workspace's Python (any version from 3.8 on),
so it uses the standard library only and no syntax newer than 3.8; and it must
never break pip, so every error of its own is caught and reported as one line
on stderr. The workspace root is the venv's parent directory.
"""

import os
import sys

PIP_MAIN_MODULE = "pip._internal.cli.main"
# pip's console scripts call ``cli`` (pip >= 26) or ``main`` (older); ``python -m pip``
# calls one of them too. Whichever the module defines is wrapped.
PIP_ENTRY_POINTS = ("cli", "main")
# Set to any non-empty value to run pip without the hook (debugging, emergencies).
DISABLE_VARIABLE = "DEVBENCH_ENV_HOOK_DISABLE"
# Set by the hook while pip runs, so the pip processes pip spawns itself (build
# isolation installs build requirements with `python -m pip`) are not logged as
# the user's calls.
ACTIVE_VARIABLE = "DEVBENCH_ENV_HOOK_ACTIVE"
# "<session id>:<key>", set by the platform in each terminal's shell: the hook
# signs its logs with the key so the platform can credit the call to the person
# whose terminal ran it (workspaces/environment/attribution.py).
SESSION_VARIABLE = "DEVBENCH_TERMINAL_SESSION"

STATE_DIR = ".devbench"
META_FILE = "env_meta.json"
RESTART_REQUEST_FILE = "runner-restart-requested"
LOGS_DIR = ".pip-logs"

OUTPUT_LIMIT_CHARS = 200_000
LOGS_KEEP_COUNT = 50
LOGS_KEEP_DAYS = 30
FORMAT_VERSION = 1


# Paths ----------------------------------------------------------------------------


def venv_path():
    return os.path.abspath(sys.prefix)


def workspace_root():
    return os.path.dirname(venv_path())


def meta_path(root=None):
    return os.path.join(root or workspace_root(), STATE_DIR, META_FILE)


def restart_request_path(root=None):
    return os.path.join(root or workspace_root(), STATE_DIR, RESTART_REQUEST_FILE)


def logs_dir(root=None):
    return os.path.join(root or workspace_root(), LOGS_DIR)


# Small helpers ------------------------------------------------------------------------


def utc_now():
    from datetime import datetime, timezone

    # timezone.utc, not datetime.UTC: the workspace's Python may predate 3.11.
    return datetime.now(timezone.utc)  # noqa: UP017


def isoformat(moment):
    return moment.isoformat(timespec="microseconds")


def python_version():
    return ".".join(str(part) for part in sys.version_info[:3])


def write_json_atomic(path, data):
    """Write ``data`` as JSON so that readers only ever see a whole file."""
    import json
    import tempfile

    directory = os.path.dirname(path)
    os.makedirs(directory, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            json.dump(data, stream, indent=2, ensure_ascii=False)
            stream.write("\n")
        # mkstemp creates 0600 files; the platform (maybe another user, in a
        # container runtime) must be able to read them.
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        try:  # noqa: SIM105 - no contextlib: nothing may be imported once pip installs
            os.unlink(temporary)
        except OSError:
            pass
        raise


def read_json(path):
    """The JSON object in ``path``, or None if it is missing, unreadable or not an object."""
    import json

    try:
        with open(path, encoding="utf-8") as stream:
            data = json.load(stream)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def redact(argument):
    """Hide credentials in URLs (``https://user:token@host`` -> ``https://****@host``)."""
    import re

    return re.sub(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/@\s]+@", r"\1****@", argument)


def terminal_session():
    """(session id, key) of the terminal this pip runs in, or None."""
    value = os.environ.get(SESSION_VARIABLE) or ""
    session_id, separator, key = value.partition(":")
    if not separator or not session_id or not key:
        return None
    return session_id, key


def signed_message(log_name, record):
    """What a log's signature covers; the platform's ``attribution.signed_message`` computes the same bytes."""
    import json

    fields = [record.get("command"), record.get("exit_code"), record.get("started_at")]
    return (log_name + "\n" + json.dumps(fields, separators=(",", ":"), ensure_ascii=True)).encode("utf-8")


def sign(key, log_name, record):
    import hashlib
    import hmac

    return hmac.new(key.encode("utf-8"), signed_message(log_name, record), hashlib.sha256).hexdigest()


def report_error(error):
    """The hook's only way to complain: one line on stderr, pip carries on."""
    try:
        stream = sys.stderr or sys.__stderr__
        message = " ".join(str(error).split())
        stream.write(
            f"devbench: environment hook failed (pip itself is unaffected): {type(error).__name__}: {message}\n"
        )
        stream.flush()
    except Exception:  # noqa: S110 - nothing is left to report with
        pass


# The package snapshot ---------------------------------------------------------------


def site_packages_dirs():
    import sysconfig

    paths = sysconfig.get_paths()
    directories = []
    for key in ("purelib", "platlib"):
        path = paths.get(key)
        if path and path not in directories:
            directories.append(path)
    return directories


def _normalize_name(name):
    import re

    return re.sub(r"[-_.]+", "-", name).lower()


def package_snapshot(directories=None, limit=None):
    """``{normalized name: version}`` of the distributions installed in the venv (the first ``limit`` found)."""
    import importlib
    import importlib.metadata

    # importlib.metadata caches directory listings by mtime; a coarse mtime
    # could hide a change made within the same second.
    importlib.invalidate_caches()
    packages = {}
    for distribution in importlib.metadata.distributions(path=list(directories or site_packages_dirs())):
        if limit is not None and len(packages) >= limit:
            break
        try:
            name = distribution.metadata["Name"]
            version = distribution.version
        except Exception:  # noqa: S112 - a broken distribution must not hide the others
            continue
        if name:
            packages[_normalize_name(name)] = version or ""
    return dict(sorted(packages.items()))


def import_what_finish_needs(directories):
    """Import, before pip runs, every module recording a call needs afterwards.

    pip >= 26 blocks all new imports once it starts installing, until the
    process exits ("hook authors must import required modules before
    installation starts"). Reading one distribution's metadata pulls in the
    email parser that importlib.metadata uses for all of them.
    """
    import json
    import tempfile  # noqa: F401 - imported for later use
    import time  # noqa: F401 - imported for later use

    json.dumps({"check": "\u00e9"}, indent=2, ensure_ascii=False)
    sign("key", "name", {})
    isoformat(utc_now())
    redact("https://example.invalid/")
    _normalize_name("Example_Name")
    package_snapshot(directories, limit=1)


def install_fingerprint(directories=None):
    """What identifies the set of installed distributions, cheaply.

    Any install, uninstall or reinstall (even of the same version) creates or
    removes a ``*.dist-info`` directory, so names plus mtimes catch them all
    without reading any metadata.
    """
    entries = []
    for directory in directories or site_packages_dirs():
        try:
            with os.scandir(directory) as scan:
                for entry in scan:
                    if entry.name.endswith((".dist-info", ".egg-info", ".egg-link", ".pth")):
                        try:
                            entries.append((entry.name, entry.stat(follow_symlinks=False).st_mtime_ns))
                        except OSError:
                            continue
        except OSError:
            continue
    return sorted(entries)


def build_env_meta(reason, command=None):
    meta = {
        "format": FORMAT_VERSION,
        "updated_at": isoformat(utc_now()),
        "reason": reason,
        "python": python_version(),
        "venv": os.path.basename(venv_path()),
        "packages": package_snapshot(),
    }
    if command is not None:
        meta["command"] = command
    return meta


def write_env_meta(reason, command=None, only_if_changed=False):
    """Write env_meta.json; with ``only_if_changed``, leave an equivalent file alone.

    Returns the metadata written, or None when nothing was written.
    """
    meta = build_env_meta(reason, command)
    if only_if_changed:
        current = read_json(meta_path())
        if current is not None and all(current.get(key) == meta[key] for key in ("python", "packages")):
            return None
    write_json_atomic(meta_path(), meta)
    return meta


# Logs ----------------------------------------------------------------------------------


def log_file_names(directory=None):
    """Log file names, oldest first (names start with their UTC start time)."""
    try:
        names = os.listdir(directory or logs_dir())
    except OSError:
        return []
    return sorted(name for name in names if name.endswith(".json") and not name.startswith("."))


def prune_logs(directory=None, keep=LOGS_KEEP_COUNT, keep_days=LOGS_KEEP_DAYS):
    """Delete logs older than ``keep_days``, then all but the newest ``keep``."""
    import time

    directory = directory or logs_dir()
    cutoff = time.time() - keep_days * 86400
    kept = []
    for name in log_file_names(directory):
        path = os.path.join(directory, name)
        try:
            if os.stat(path).st_mtime < cutoff:
                os.unlink(path)
            else:
                kept.append(name)
        except FileNotFoundError:
            continue
    for name in kept[: max(len(kept) - keep, 0)]:
        try:
            os.unlink(os.path.join(directory, name))
        except FileNotFoundError:
            continue
    # Temporary files of writers that died before their os.replace.
    try:
        for name in os.listdir(directory):
            path = os.path.join(directory, name)
            if name.startswith(".") and name.endswith(".tmp") and os.stat(path).st_mtime < time.time() - 3600:
                os.unlink(path)
    except OSError:
        pass


class CappedText:
    """Collects text up to a limit, keeping its beginning and its end.

    Pip's errors come last and its plan first; the middle (progress, long
    dependency listings) is what gets dropped.
    """

    def __init__(self, limit=OUTPUT_LIMIT_CHARS):
        from collections import deque

        self.head_limit = limit // 2
        self.tail_limit = limit - self.head_limit
        self.head = []
        self.head_size = 0
        self.tail = deque()
        self.tail_size = 0
        self.omitted = 0

    def add(self, text):
        if not isinstance(text, str):
            text = str(text)
        if self.head_size < self.head_limit:
            taken = text[: self.head_limit - self.head_size]
            self.head.append(taken)
            self.head_size += len(taken)
            text = text[len(taken) :]
        if not text:
            return
        self.tail.append(text)
        self.tail_size += len(text)
        while self.tail_size > self.tail_limit:
            excess = self.tail_size - self.tail_limit
            first = self.tail[0]
            if len(first) <= excess:
                self.tail.popleft()
                dropped = len(first)
            else:
                self.tail[0] = first[excess:]
                dropped = excess
            self.tail_size -= dropped
            self.omitted += dropped

    @property
    def truncated(self):
        return self.omitted > 0

    def text(self):
        head = "".join(self.head)
        tail = "".join(self.tail)
        if self.omitted:
            return f"{head}\n[devbench: {self.omitted} characters omitted]\n{tail}"
        return head + tail


class Tee:
    """A text stream that writes through to the real one and keeps a capped copy."""

    def __init__(self, stream, capture):
        self._stream = stream
        self._capture = capture

    def write(self, text):
        written = self._stream.write(text)
        try:  # noqa: SIM105 - no contextlib: nothing may be imported once pip installs
            self._capture.add(text)
        except Exception:  # noqa: S110 - capturing is best effort; the user's output is not
            pass
        return written

    def writelines(self, lines):
        for line in lines:
            self.write(line)

    def flush(self):
        return self._stream.flush()

    def __getattr__(self, name):
        # isatty, fileno, encoding, buffer...: whatever pip and rich ask of a stream.
        return getattr(self._stream, name)


def exit_status(code):
    """The process exit status that ``SystemExit(code)`` produces."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    return 1


def command_for_log(args):
    """The call as the user typed it, e.g. ``["pip3", "install", "x"]`` or ``["python", "-m", "pip", ...]``."""
    program = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "pip"
    if program in ("__main__.py", "-c", "-m") or program.endswith(".py"):
        program_words = [os.path.basename(sys.executable) or "python", "-m", "pip"]
    else:
        program_words = [program]
    arguments = sys.argv[1:] if args is None else list(args)
    return [redact(str(word)) for word in program_words + arguments]


class PipRun:
    """One pip call: captures its output while it runs, records it afterwards."""

    def __init__(self, args):
        import time

        self.command = command_for_log(args)
        self.started = utc_now()
        self.clock = time.monotonic()
        self.stdout = CappedText()
        self.stderr = CappedText()
        self.saved_streams = None
        self.saved_active = os.environ.get(ACTIVE_VARIABLE)
        self.session = terminal_session()
        self.directories = site_packages_dirs()
        self.fingerprint = install_fingerprint(self.directories)
        import_what_finish_needs(self.directories)

    def begin(self):
        os.environ[ACTIVE_VARIABLE] = "1"
        self.saved_streams = (sys.stdout, sys.stderr)
        if sys.stdout is not None:
            sys.stdout = Tee(sys.stdout, self.stdout)
        if sys.stderr is not None:
            sys.stderr = Tee(sys.stderr, self.stderr)

    def restore(self):
        if self.saved_streams is not None:
            sys.stdout, sys.stderr = self.saved_streams
            self.saved_streams = None
        if self.saved_active is None:
            os.environ.pop(ACTIVE_VARIABLE, None)
        else:
            os.environ[ACTIVE_VARIABLE] = self.saved_active

    def finish(self, exit_code):
        import time

        duration = time.monotonic() - self.clock
        try:
            self.restore()
        except Exception as error:
            report_error(error)
            return
        # Three independent steps: a failure in one still lets the others run,
        # and only the first failure is reported.
        errors = []
        changed = False
        try:
            changed = install_fingerprint(self.directories) != self.fingerprint
            if changed:
                write_env_meta("pip", self.command)
        except Exception as error:
            errors.append(error)
        try:
            self.write_log(exit_code, duration, changed)
        except Exception as error:
            errors.append(error)
        try:
            prune_logs()
        except Exception as error:
            errors.append(error)
        if errors:
            report_error(errors[0])

    def write_log(self, exit_code, duration, changed):
        finished = utc_now()
        record = {
            "format": FORMAT_VERSION,
            "command": self.command,
            "exit_code": exit_code,
            "started_at": isoformat(self.started),
            "finished_at": isoformat(finished),
            "duration_seconds": round(duration, 3),
            "packages_changed": changed,
            "python": python_version(),
            "pid": os.getpid(),
            "stdout": self.stdout.text(),
            "stdout_truncated": self.stdout.truncated,
            "stderr": self.stderr.text(),
            "stderr_truncated": self.stderr.truncated,
        }
        name = f"{self.started.strftime('%Y%m%dT%H%M%S.%fZ')}-{os.getpid()}.json"
        if self.session is not None:
            session_id, key = self.session
            record["terminal_session"] = session_id
            record["signature"] = sign(key, name, record)
        write_json_atomic(os.path.join(logs_dir(), name), record)


# The import hook -------------------------------------------------------------------------


def wrap_pip_entry_point(real_main):
    import functools

    if getattr(real_main, "__devbench_wrapped__", False):
        return real_main

    @functools.wraps(real_main)
    def main(*args, **kwargs):
        # Nested calls (pip's own subprocesses, or cli() calling main()) pass straight through.
        if os.environ.get(ACTIVE_VARIABLE):
            return real_main(*args, **kwargs)
        run = None
        try:
            run = PipRun(args[0] if args else kwargs.get("args"))
            run.begin()
        except Exception as error:
            report_error(error)
            if run is not None:
                try:  # noqa: SIM105 - no contextlib: nothing may be imported once pip installs
                    run.restore()
                except Exception:  # noqa: S110 - already reported; pip must still run
                    pass
            return real_main(*args, **kwargs)
        exit_code = 1  # anything but a normal return or SystemExit is a failure
        try:
            result = real_main(*args, **kwargs)
            exit_code = result if isinstance(result, int) else 0
            return result
        except SystemExit as stop:
            exit_code = exit_status(stop.code)
            raise
        except KeyboardInterrupt:
            exit_code = 130
            raise
        finally:
            run.finish(exit_code)

    main.__devbench_wrapped__ = True
    return main


class PatchingLoader:
    """Delegates to pip's real loader, then wraps the loaded module's entry points."""

    def __init__(self, loader):
        self._loader = loader

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        self._loader.exec_module(module)
        try:
            for name in PIP_ENTRY_POINTS:
                entry_point = getattr(module, name, None)
                if callable(entry_point):
                    setattr(module, name, wrap_pip_entry_point(entry_point))
        except Exception as error:
            report_error(error)

    def __getattr__(self, name):
        return getattr(self._loader, name)


class PipMainFinder:
    """A meta path finder that finds nothing itself.

    For ``pip._internal.cli.main`` only, it asks the regular path finder for
    the module and hands back the same spec with a wrapping loader; for every
    other name it answers None after one string comparison.
    """

    devbench_env_hook = True

    def find_spec(self, fullname, path=None, target=None):
        if fullname != PIP_MAIN_MODULE:
            return None
        try:
            from importlib.machinery import PathFinder

            spec = PathFinder.find_spec(fullname, path, target)
            if spec is None or spec.loader is None:
                return None
            spec.loader = PatchingLoader(spec.loader)
            return spec
        except Exception as error:
            report_error(error)
            return None


def install():
    if os.environ.get(DISABLE_VARIABLE):
        return
    if any(getattr(finder, "devbench_env_hook", False) for finder in sys.meta_path):
        return
    sys.meta_path.insert(0, PipMainFinder())


install()
