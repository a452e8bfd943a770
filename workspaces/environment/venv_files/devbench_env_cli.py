"""devbench-env: the workspace's environment from the terminal.

    devbench-env logs [-n N]        recent pip calls, newest first
    devbench-env show N|FILE        one pip call: command, exit code, stdout, stderr
    devbench-env status             Python, venv, packages, last change
    devbench-env restart-runner     ask the platform to restart the workspace runner
    devbench-env refresh [--force]  re-read the installed packages into env_meta.json

The platform writes this file to ``<venv>/bin/devbench-env`` with the venv's
Python in its first line. Standard library only, Python 3.8+; the paths and
file formats come from ``devbench_env_hook``, which sits in the same venv.
"""

import argparse
import os
import shlex
import sys

import devbench_env_hook as hook


def _log_entries():
    """``(name, record)`` pairs, newest first; unreadable files show as empty records."""
    directory = hook.logs_dir()
    names = hook.log_file_names(directory)
    return [(name, hook.read_json(os.path.join(directory, name)) or {}) for name in reversed(names)]


def _short_time(value):
    # "2025-01-02T03:04:05.678901+00:00" -> "2025-01-02 03:04:05"
    return (value or "?")[:19].replace("T", " ")


def _command_text(record):
    command = record.get("command")
    return shlex.join(command) if isinstance(command, list) else "?"


def command_logs(arguments):
    entries = _log_entries()[: arguments.number]
    if not entries:
        print("No pip calls logged yet.")
        return 0
    print(f"{'#':>4}  {'started (UTC)':<19}  {'exit':>4}  {'seconds':>8}  command")
    for index, (_name, record) in enumerate(entries, start=1):
        duration = record.get("duration_seconds")
        seconds = f"{duration:.2f}" if isinstance(duration, (int, float)) else "?"
        started = _short_time(record.get("started_at"))
        exit_code = record.get("exit_code", "?")
        print(f"{index:>4}  {started:<19}  {exit_code!s:>4}  {seconds:>8}  {_command_text(record)}")
    return 0


def command_show(arguments):
    which = arguments.log
    entries = _log_entries()
    if which.isdigit():
        index = int(which)
        if not 1 <= index <= len(entries):
            print(f"devbench-env: no pip call #{which} (there are {len(entries)}; see `devbench-env logs`)")
            return 1
        name, record = entries[index - 1]
    else:
        name = os.path.basename(which)
        record = hook.read_json(os.path.join(hook.logs_dir(), name))
        if record is None:
            print(f"devbench-env: no readable pip log named {name} in {hook.LOGS_DIR}")
            return 1
    print(f"command:   {_command_text(record)}")
    print(f"exit code: {record.get('exit_code', '?')}")
    print(f"started:   {_short_time(record.get('started_at'))} UTC")
    print(f"duration:  {record.get('duration_seconds', '?')} s")
    print(f"log file:  {hook.LOGS_DIR}/{name}")
    for stream in ("stdout", "stderr"):
        print(f"----- {stream} -----")
        text = record.get(stream) or ""
        sys.stdout.write(text if text.endswith("\n") or not text else text + "\n")
    return 0


def command_status(arguments):
    meta = hook.read_json(hook.meta_path()) or {}
    packages = hook.package_snapshot()
    print(f"python:         {hook.python_version()} ({sys.executable})")
    print(f"venv:           {hook.venv_path()}")
    print(f"packages:       {len(packages)} installed")
    if meta.get("updated_at"):
        change = _short_time(meta["updated_at"]) + " UTC"
        if meta.get("command"):
            change += f" ({shlex.join(meta['command'])})"
        elif meta.get("reason"):
            change += f" ({meta['reason']})"
        print(f"last change:    {change}")
    else:
        print("last change:    unknown (run `devbench-env refresh`)")
    entries = _log_entries()
    if entries:
        record = entries[0][1]
        print(
            "last pip call:  {} UTC, exit {}: {}".format(
                _short_time(record.get("started_at")), record.get("exit_code", "?"), _command_text(record)
            )
        )
    restart = hook.read_json(hook.restart_request_path())
    if restart and restart.get("requested_at"):
        print(f"runner restart: requested {_short_time(restart['requested_at'])} UTC")
    active = any(getattr(finder, "devbench_env_hook", False) for finder in sys.meta_path)
    state = "active" if active else f"inactive ({hook.DISABLE_VARIABLE} is set)"
    print(f"pip hook:       {state}")
    return 0


def command_restart_runner(arguments):
    hook.write_json_atomic(
        hook.restart_request_path(),
        {"requested_at": hook.isoformat(hook.utc_now()), "requested_by": "devbench-env", "pid": os.getpid()},
    )
    print("Asked the platform to restart this workspace's runner.")
    return 0


def command_refresh(arguments):
    meta = hook.write_env_meta("refresh", only_if_changed=not arguments.force)
    if not arguments.quiet:
        if meta is None:
            print(f"Nothing changed since {hook.META_FILE}.")
        else:
            print(f"Recorded {len(meta['packages'])} packages in {hook.STATE_DIR}/{hook.META_FILE}.")
    return 0


def build_parser():
    parser = argparse.ArgumentParser(
        prog="devbench-env", description="This workspace's Python environment, as Devbench sees it."
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    logs = commands.add_parser("logs", help="list recent pip calls, newest first")
    logs.add_argument("-n", "--number", type=int, default=20, help="how many (default 20)")
    logs.set_defaults(handler=command_logs)

    show = commands.add_parser("show", help="show one pip call with its output")
    show.add_argument("log", metavar="N|FILE", help="number from `devbench-env logs` (1 = latest) or a log file name")
    show.set_defaults(handler=command_show)

    status = commands.add_parser("status", help="Python, venv, package count, last change")
    status.set_defaults(handler=command_status)

    restart = commands.add_parser("restart-runner", help="ask the platform to restart the workspace runner")
    restart.set_defaults(handler=command_restart_runner)

    refresh = commands.add_parser(
        "refresh", help="record the installed packages now (after installing without pip, e.g. with uv)"
    )
    refresh.add_argument("--force", action="store_true", help="write even if nothing changed")
    refresh.add_argument("--quiet", action="store_true", help="print nothing")
    refresh.set_defaults(handler=command_refresh)
    return parser


def main(argv=None):
    arguments = build_parser().parse_args(argv)
    try:
        return arguments.handler(arguments)
    except BrokenPipeError:
        # `devbench-env show 1 | head` is fine.
        return 0
    except OSError as error:
        print(f"devbench-env: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
