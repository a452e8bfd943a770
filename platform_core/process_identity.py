"""Which process runs a job, and whether that process still exists.

A pid alone is not an identity: pids are reused, and a restarted container
numbers its processes from 1 again under the same host name. So a process is
named by host, pid and its start time (Linux: clock ticks after boot, field 22
of /proc/<pid>/stat). Only a process on the same host can be checked; for the
others the answer is "cannot tell".
"""

import os
import socket
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ProcessIdentity:
    host: str
    pid: int
    start: int | None  # None where /proc is not available


def current_process() -> ProcessIdentity:
    return identity_of(os.getpid())


def identity_of(pid: int) -> ProcessIdentity:
    """The identity of process ``pid`` on this host (start None if it is gone or /proc is missing)."""
    return ProcessIdentity(host=socket.gethostname(), pid=pid, start=_start_ticks(pid))


def is_gone(identity: ProcessIdentity) -> bool | None:
    """True if the process has exited, False if it still runs, None if it runs on another host."""
    if identity.host != socket.gethostname():
        return None
    start = _start_ticks(identity.pid)
    if start is not None:
        return identity.start is not None and start != identity.start
    if Path("/proc/self/stat").exists():
        return True  # /proc works here, so the pid is gone (or a zombie)
    try:
        os.kill(identity.pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # exists, owned by someone else
    return False


def _start_ticks(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may itself contain
    # spaces or parentheses; the fields after the last ")" start at field 3.
    fields = stat.rsplit(b")", 1)[1].split()
    if fields[0] in (b"Z", b"X"):
        return None  # exited, waiting to be reaped
    return int(fields[19])
