"""The runtime's spawn API on the local runtime: PTYs and pipes, signals, escalation, cleanup."""

import asyncio
import os
import signal
from pathlib import Path

import pytest

from workspaces.runtime.base import InputOverflowError
from workspaces.runtime.local import LocalRuntime, session_members

ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "TERM": "xterm"}
TIMEOUT = 10


@pytest.fixture
def runtime(tmp_path):
    (tmp_path / "ws-1" / "sub").mkdir(parents=True)
    return LocalRuntime(tmp_path)


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
    assert str(tmp_path / "ws-1" / "sub").encode() in output.chunks["stdout"]
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
    process = await runtime.spawn(
        1,
        ["bash", "-c", "trap '' HUP TERM; sleep 1000 & echo $!; while :; do sleep 0.05; done"],
        tty=False,
        env=ENV,
    )
    background = int((await process.read(100)).strip())

    code = await asyncio.wait_for(process.terminate(grace_seconds=0.4), TIMEOUT)

    assert code == -signal.SIGKILL
    assert await wait_until_gone(background, 5)
    assert session_members(process.pid) == []


async def test_background_jobs_die_with_the_process_that_started_them(runtime):
    process = await runtime.spawn(1, ["bash", "-c", "nohup sleep 1000 >/dev/null 2>&1 & echo $!"], tty=True, env=ENV)
    output = Collector(process)

    assert await asyncio.wait_for(process.wait(), TIMEOUT) == 0
    background = int(output.chunks["stdout"].split()[-1])
    # SIGKILL was sent before wait() returned; on a busy machine dying takes a moment.
    assert await wait_until_gone(background, 5)


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
