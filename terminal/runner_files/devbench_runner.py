"""The warm runner: a Python process in the workspace's venv that runs files and snippets on request.

It runs in the WORKSPACE's interpreter, so it uses the standard library only.
The platform talks to it with JSON lines: requests on stdin, events on stdout.
Each run is a forked child (fast: the interpreter is already up) in its own
process group, so the platform can stop it without touching the runner, and a
run cannot leave state behind for the next one.

Requests:  {"op": "run", "id": str, "path": str | null, "code": str | null, "args": [str], "cwd": str}
           {"op": "stop", "signal": "SIGINT" | "SIGKILL"}  (to the current run's process group)
Events:    {"ev": "ready", "python": str, "pid": int}
           {"ev": "started", "id": str, "pid": int}
           {"ev": "output", "id": str, "stream": "stdout" | "stderr", "data": str}
           {"ev": "finished", "id": str, "exit_code": int}
           {"ev": "error", "id": str | null, "message": str}
"""

import codecs
import contextlib
import json
import os
import runpy
import selectors
import signal
import sys
import traceback

CHUNK = 65536
STOP_SIGNALS = {"SIGINT": signal.SIGINT, "SIGKILL": signal.SIGKILL}


def emit(event: dict) -> None:
    sys.__stdout__.write(json.dumps(event) + "\n")
    sys.__stdout__.flush()


def print_user_traceback(error: BaseException) -> None:
    """The traceback as if the program had been run directly: runner and runpy frames left out."""
    internal = {os.path.abspath(__file__), os.path.abspath(runpy.__file__)}
    tb = error.__traceback__
    while tb is not None and os.path.abspath(tb.tb_frame.f_code.co_filename) in internal:
        tb = tb.tb_next
    traceback.print_exception(type(error), error, tb)


def run_in_child(request: dict, out_fd: int, err_fd: int) -> None:
    """Body of the forked child: become the program, then exit."""
    os.setpgid(0, 0)
    # The runner may have been started with SIGINT ignored (as background
    # processes are); the program gets Python's usual Ctrl+C behaviour.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.dup2(out_fd, 1)
    os.dup2(err_fd, 2)
    os.close(out_fd)
    os.close(err_fd)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    sys.stdin = open(0, closefd=False)  # noqa: SIM115 - lives as long as the process
    sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
    code = 0
    try:
        os.chdir(request["cwd"])
        if request.get("path"):
            sys.argv = [request["path"], *request.get("args", [])]
            sys.path.insert(0, os.path.dirname(os.path.abspath(request["path"])))
            runpy.run_path(request["path"], run_name="__main__")
        else:
            sys.argv = ["-c", *request.get("args", [])]
            sys.path.insert(0, "")
            exec(compile(request.get("code") or "", "<snippet>", "exec"), {"__name__": "__main__"})  # noqa: S102
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
        if not isinstance(stop.code, int) and stop.code is not None:
            print(stop.code, file=sys.stderr)
    except BaseException as error:  # noqa: BLE001 - report whatever the user's code raised
        print_user_traceback(error)
        code = 1
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def start_run(request: dict, selector: selectors.BaseSelector) -> dict:
    out_read, out_write = os.pipe()
    err_read, err_write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(out_read)
        os.close(err_read)
        run_in_child(request, out_write, err_write)
    os.close(out_write)
    os.close(err_write)
    run = {"id": request["id"], "pid": pid, "open": 2}
    for fd, stream in ((out_read, "stdout"), (err_read, "stderr")):
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        selector.register(fd, selectors.EVENT_READ, ("output", stream, decoder, run))
    emit({"ev": "started", "id": run["id"], "pid": pid})
    return run


def stop_run(run: dict, signal_name) -> None:
    """Signal a run's process group (SIGINT unless told SIGKILL); it may have ended meanwhile."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(run["pid"], STOP_SIGNALS.get(signal_name or "SIGINT", signal.SIGINT))


def finish(run: dict) -> None:
    _, status = os.waitpid(run["pid"], 0)
    exit_code = os.waitstatus_to_exitcode(status)
    emit({"ev": "finished", "id": run["id"], "exit_code": exit_code})


def main() -> None:
    selector = selectors.DefaultSelector()
    stdin_fd = sys.stdin.fileno()
    selector.register(stdin_fd, selectors.EVENT_READ, ("control",))
    pending = b""
    current = None
    emit({"ev": "ready", "python": sys.version.split()[0], "pid": os.getpid()})
    while True:
        for key, _ in selector.select():
            kind = key.data[0]
            if kind == "control":
                data = os.read(stdin_fd, CHUNK)
                if not data:
                    return  # the platform closed our stdin: shut down
                pending += data
                while b"\n" in pending:
                    line, pending = pending.split(b"\n", 1)
                    try:
                        request = json.loads(line)
                    except ValueError:
                        emit({"ev": "error", "id": None, "message": "invalid request"})
                        continue
                    if request.get("op") == "stop":
                        if current is not None:
                            stop_run(current, request.get("signal"))
                    elif current is not None:
                        emit({"ev": "error", "id": request.get("id"), "message": "a run is in progress"})
                    elif request.get("op") == "run":
                        current = start_run(request, selector)
            else:
                _, stream, decoder, run = key.data
                data = os.read(key.fd, CHUNK)
                text = decoder.decode(data, final=not data)
                if text:
                    emit({"ev": "output", "id": run["id"], "stream": stream, "data": text})
                if not data:
                    selector.unregister(key.fd)
                    os.close(key.fd)
                    run["open"] -= 1
                    if run["open"] == 0:
                        finish(run)
                        current = None


if __name__ == "__main__":
    main()
