"""The runtime's spawn API on the local runtime: PTYs and pipes, signals, escalation, cleanup.

Every test runs twice: plain, and inside the bubblewrap sandbox, whose
processes have their own pid namespace (so a pid a shell prints is not the
host's: tests find their processes by a unique command line instead).
"""

import asyncio
import itertools
import os
import signal
from pathlib import Path

import pytest

from workspaces.runtime.base import InputOverflowError
from workspaces.runtime.local import LocalRuntime, session_members
from workspaces.runtime.sandbox import SandboxUnavailableError, sandbox_status

ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "TERM": "xterm"}
TIMEOUT = 10
_durations = itertools.count(1)


@pytest.fixture(params=["plain", "sandboxed"])
def runtime(request, tmp_path):
    (tmp_path / "ws-1" / "sub").mkdir(parents=True)
    if request.param == "plain":
        return LocalRuntime(tmp_path)
    status = sandbox_status()
    if status.sandbox is None:
        if os.environ.get("CI"):
            pytest.fail(f"no sandbox: {status.problem}")
        pytest.skip(f"no sandbox: {status.problem}")
    return LocalRuntime(tmp_path, sandbox=status.sandbox)


def unique_sleep() -> str:
    """A sleep duration no other process on the machine uses: its command line finds it."""
    return f"{1000 + next(_durations)}.{os.getpid()}"


def pids_running(command_line: str) -> list[int]:
    """Host pids of the processes whose command line is exactly ``command_line``."""
    wanted = command_line.replace(" ", "\0").encode() + b"\0"
    pids = []
    for entry in os.listdir("/proc"):
        try:
            if entry.isdigit() and Path(f"/proc/{entry}/cmdline").read_bytes() == wanted:
                pids.append(int(entry))
        except OSError:
            continue
    return pids


async def the_process_running(command_line: str) -> int:
    """The host pid of the one process running ``command_line``, once it has started."""
    async with asyncio.timeout(TIMEOUT):
        while not (pids := pids_running(command_line)):
            await asyncio.sleep(0.01)
    (pid,) = pids
    return pid


async def wait_until_gone(pid: int, timeout: float) -> bool:
    """Whether ``pid`` exits within ``timeout`` seconds (a pidfd turns readable when it does)."""
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    loop = asyncio.get_running_loop()
    exited = loop.create_future()
    loop.add_reader(pidfd, lambda: exited.done() or exited.set_result(None))
    try:
        await asyncio.wait_for(exited, timeout)
        return True
    except TimeoutError:
        return False
    finally:
        loop.remove_reader(pidfd)
        os.close(pidfd)


async def wait_for_foreground_command(process, command: str) -> None:
    """Until ``command`` has replaced the shell's fork in the foreground (a signal sent
    between fork and exec lands in the shell's handlers and is lost)."""

    def foreground_command():
        group = process.foreground_process_group()
        try:
            return Path(f"/proc/{group}/comm").read_text().strip()
        except OSError:
            return None

    async with asyncio.timeout(TIMEOUT):
        while foreground_command() != command:
            await asyncio.sleep(0.01)


class Collector:
    """Collects a process's output through the callback API; awaitable markers."""

    def __init__(self, process):
        self.chunks: dict[str, bytearray] = {"stdout": bytearray(), "stderr": bytearray()}
        self.ended: set[str] = set()
        self.changed = asyncio.Event()
        process.start_reading(self.on_output)

    def on_output(self, stream: str, chunk: bytes) -> None:
        if chunk:
            self.chunks[stream] += chunk
        else:
            self.ended.add(stream)
        self.changed.set()

    async def expect(self, text: bytes, stream: str = "stdout") -> None:
        try:
            async with asyncio.timeout(TIMEOUT):
                while text not in self.chunks[stream]:
                    self.changed.clear()
                    await self.changed.wait()
        except TimeoutError:
            raise AssertionError(f"{text!r} not in {bytes(self.chunks[stream][-300:])!r}") from None


async def test_a_pty_process_runs_in_the_given_directory_with_the_given_size(runtime, tmp_path):
    process = await runtime.spawn(
        1, ["sh", "-c", "pwd; stty size; exit 4"], tty=True, env=ENV, cwd="sub", cols=90, rows=30
    )
    output = Collector(process)

    code = await asyncio.wait_for(process.wait(), TIMEOUT)

    assert code == 4
    assert f"{runtime.process_root(1)}/sub\r\n".encode() in output.chunks["stdout"]
    assert b"30 90" in output.chunks["stdout"]
    assert output.ended == {"stdout"}


async def test_a_pty_process_can_be_resized_and_signalled_in_its_foreground_group(runtime):
    process = await runtime.spawn(1, ["bash", "--norc", "-i"], tty=True, env=ENV)
    output = Collector(process)
    process.resize(100, 40)
    process.write(b"stty size; echo __GO_$((1+1))__; sleep 100\n")
    await output.expect(b"__GO_2__")
    await wait_for_foreground_command(process, "sleep")

    process.send_signal(signal.SIGINT)
    process.write(b"echo __RC_$?__\n")
    await output.expect(b"__RC_130__")

    assert b"40 100" in output.chunks["stdout"]
    assert process.is_running()
    assert await process.terminate(1.0) == -signal.SIGHUP


async def test_pipes_carry_stdin_stdout_and_stderr_separately(runtime):
    process = await runtime.spawn(1, ["sh", "-c", "echo out; echo err >&2; cat; exit 5"], tty=False, env=ENV)

    process.write(b"line one\nline two\n")
    process.close_stdin()
    stdout = [line async for line in process.stdout_lines()]
    stderr = [line async for line in process.stderr_lines()]

    assert stdout == ["out\n", "line one\n", "line two\n"]
    assert stderr == ["err\n"]
    assert await process.wait() == 5
    assert not process.is_running()


async def test_pipes_read_raw_bytes(runtime):
    process = await runtime.spawn(1, ["printf", "abc"], tty=False, env=ENV)

    assert await process.read(10) == b"abc"
    assert await process.read(10) == b""
    assert await process.wait() == 0


async def test_terminate_escalates_to_sigkill_and_kills_the_whole_session(runtime):
    duration = unique_sleep()
    process = await runtime.spawn(
        1,
        ["bash", "-c", f"trap '' HUP TERM; sleep {duration} & echo started; while :; do sleep 0.05; done"],
        tty=False,
        env=ENV,
    )
    assert (await process.read(100)).strip() == b"started"
    background = await the_process_running(f"sleep {duration}")

    code = await asyncio.wait_for(process.terminate(grace_seconds=0.4), TIMEOUT)

    assert code == -signal.SIGKILL
    assert await wait_until_gone(background, 5)
    assert session_members(process.pid) == []


async def test_background_jobs_die_with_the_process_that_started_them(runtime):
    duration = unique_sleep()
    process = await runtime.spawn(
        1, ["bash", "-c", f"nohup sleep {duration} >/dev/null 2>&1 & read -r line"], tty=True, env=ENV
    )
    Collector(process)  # the output must be read for the process to run on
    background = await the_process_running(f"sleep {duration}")
    process.write(b"go\n")

    assert await asyncio.wait_for(process.wait(), TIMEOUT) == 0
    # SIGKILL was sent before wait() returned; on a busy machine dying takes a moment.
    assert await wait_until_gone(background, 5)


async def test_a_program_killed_by_a_signal_reports_it_as_a_negative_exit_code(runtime):
    process = await runtime.spawn(1, ["sh", "-c", "kill -TERM $$"], tty=False, env=ENV)

    assert await asyncio.wait_for(process.wait(), TIMEOUT) == -signal.SIGTERM


async def test_spawning_and_ending_leaves_no_descriptors_or_children(runtime):
    before = len(os.listdir("/proc/self/fd"))

    for tty in (True, False, True, False):
        process = await runtime.spawn(1, ["sleep", "100"], tty=tty, env=ENV)
        Collector(process)
        await process.terminate(1.0)
        await process.terminate(1.0)  # twice is fine

    assert len(os.listdir("/proc/self/fd")) == before


async def test_input_that_is_never_read_is_bounded(runtime):
    process = await runtime.spawn(1, ["sleep", "100"], tty=False, env=ENV)

    with pytest.raises(InputOverflowError):
        for _ in range(1000):
            process.write(b"x" * 65536)

    await process.terminate(1.0)


async def test_it_refuses_missing_programs_and_directories_outside_the_workspace(runtime):
    with pytest.raises(FileNotFoundError):
        await runtime.spawn(1, ["no-such-program-here"], tty=True, env=ENV)
    with pytest.raises(ValueError):
        await runtime.spawn(1, ["true"], tty=False, env=ENV, cwd="../..")
    with pytest.raises(FileNotFoundError):
        await runtime.spawn(2, ["true"], tty=False, env=ENV)


async def test_run_completes_a_command_and_captures_its_output(runtime):
    completed = await asyncio.to_thread(
        runtime.run, 1, ["sh", "-c", "pwd; cat; echo err >&2; exit 3"], env=ENV, cwd="sub", input=b"in", timeout=TIMEOUT
    )

    assert completed.returncode == 3
    assert completed.stdout == f"{runtime.process_root(1)}/sub\nin".encode()
    assert completed.stderr == b"err\n"


async def test_it_starts_nothing_when_a_required_sandbox_is_missing(tmp_path):
    (tmp_path / "ws-1").mkdir()
    runtime = LocalRuntime(tmp_path, refusal="WORKSPACE_SANDBOX=bubblewrap, but bubblewrap cannot run here")

    with pytest.raises(SandboxUnavailableError, match="WORKSPACE_SANDBOX=bubblewrap"):
        await runtime.spawn(1, ["true"], tty=True, env=ENV)
    with pytest.raises(SandboxUnavailableError):
        runtime.run(1, ["true"], env=ENV, timeout=TIMEOUT)
    assert runtime.root(1).is_dir()  # the files stay reachable
