"""Pure parts of terminal sessions: replay, size policy, control messages, the shell's environment."""

import asyncio
import json
from pathlib import Path

import pytest

from terminal.sessions import (
    ENTER_ALTERNATE_SCREEN,
    MAX_OUTPUT_FRAME_BYTES,
    RESET,
    ControlMessageError,
    ReplayBuffer,
    TerminalClient,
    alternate_screen_after,
    effective_size,
    parse_control_message,
    replay_bytes,
)
from terminal.shell import RC_FILE, prepare_shell, shell_environment
from workspaces.platform_writes import UnsafeWorkspacePath

CLEAR = b"\x1b[H\x1b[2J\x1b[3J"  # what `clear` prints
ALT_ON = b"\x1b[?1049h"
ALT_OFF = b"\x1b[?1049l"


# Replay ------------------------------------------------------------------------------------


def test_it_replays_a_complete_history_as_is():
    assert replay_bytes(b"$ ls\r\nfile\r\n$ ", truncated=False, alternate_screen=False) == b"$ ls\r\nfile\r\n$ "


def test_it_replays_nothing_from_an_empty_buffer():
    assert replay_bytes(b"", truncated=True, alternate_screen=True) == b""


def test_it_starts_at_the_last_clear_including_the_cursor_home_before_it():
    buffer = b"old output\r\n" + CLEAR + b"$ new\r\n" + CLEAR + b"$ newest"

    assert replay_bytes(buffer, truncated=False, alternate_screen=False) == RESET + CLEAR + b"$ newest"


def test_it_starts_at_a_terminal_reset_without_adding_another():
    buffer = b"garbage\x1bcclean"

    assert replay_bytes(buffer, truncated=True, alternate_screen=False) == b"\x1bcclean"


def test_a_truncated_buffer_starts_at_the_next_line_with_a_reset():
    buffer = b"[31mhalf an escape sequence\r\nwhole line\r\n$ "

    assert replay_bytes(buffer, truncated=True, alternate_screen=False) == RESET + b"whole line\r\n$ "


def test_a_truncated_buffer_without_newlines_drops_a_split_utf8_sequence():
    euro = "€".encode()  # e2 82 ac
    buffer = euro[1:] + "résumé".encode()

    replay = replay_bytes(buffer, truncated=True, alternate_screen=False)

    assert replay == RESET + "résumé".encode()
    replay.decode("utf-8")


def test_a_full_screen_program_replays_the_main_screen_then_its_own_from_its_last_clear():
    buffer = b"$ vim notes\r\n" + ALT_ON + b"\x1b[H\x1b[2Jfirst frame" + b"\x1b[H\x1b[2Jsecond frame"

    replay = replay_bytes(buffer, truncated=False, alternate_screen=True)

    assert replay == b"$ vim notes\r\n" + ENTER_ALTERNATE_SCREEN + b"\x1b[H\x1b[2Jsecond frame"


def test_a_full_screen_program_started_before_the_buffer_gets_reset_and_alternate_screen_first():
    buffer = b"tail of a frame\r\n\x1b[5;1Hstatus line"

    replay = replay_bytes(buffer, truncated=True, alternate_screen=True)

    assert replay == RESET + ENTER_ALTERNATE_SCREEN + b"\x1b[5;1Hstatus line"


def test_after_a_full_screen_program_exits_its_screen_is_replayed_and_left():
    buffer = b"$ top\r\n" + ALT_ON + b"\x1b[2Jtop frame" + ALT_OFF + b"$ "

    assert replay_bytes(buffer, truncated=False, alternate_screen=False) == buffer


def test_a_clear_inside_a_finished_full_screen_program_is_not_a_main_screen_start():
    buffer = b"before\r\n" + CLEAR + b"$ less\r\n" + ALT_ON + b"\x1b[2Jpage" + ALT_OFF + b"$ "

    replay = replay_bytes(buffer, truncated=False, alternate_screen=False)

    assert replay == RESET + CLEAR + b"$ less\r\n" + ALT_ON + b"\x1b[2Jpage" + ALT_OFF + b"$ "


def test_a_buffer_that_starts_inside_a_finished_program_skips_its_screen():
    buffer = b"stale frame of a program" + ALT_OFF + b"$ back at the prompt"

    assert replay_bytes(buffer, truncated=True, alternate_screen=False) == RESET + b"$ back at the prompt"


@pytest.mark.parametrize(
    "data, expected",
    [
        (ALT_ON, True),
        (ALT_ON + ALT_OFF, False),
        (b"\x1b[?47h", True),
        (b"\x1b[?1047h" + b"\x1bc", False),
        (b"plain text \x1b[2J", False),
    ],
)
def test_it_tracks_the_alternate_screen(data, expected):
    assert alternate_screen_after(data, False) is expected


def test_the_buffer_keeps_the_most_recent_bytes_and_finds_markers_split_across_chunks():
    buffer = ReplayBuffer(limit=16)

    buffer.append(b"0123456789\x1b[?10")
    buffer.append(b"49hABCDEFGH")

    assert bytes(buffer.data) == (b"0123456789\x1b[?1049hABCDEFGH")[-16:]
    assert buffer.truncated
    assert buffer.alternate_screen
    assert buffer.replay().startswith(RESET + ENTER_ALTERNATE_SCREEN)


def test_a_zero_limit_disables_the_replay():
    buffer = ReplayBuffer(limit=0)
    buffer.append(b"anything")

    assert buffer.replay() == b""


# Client outbox --------------------------------------------------------------------------------


class RecordingSocket:
    """The two calls a session makes on a socket, recorded; each send yields to the loop like a real one."""

    def __init__(self):
        self.frames: list[tuple[str, object]] = []
        self.closed = asyncio.Event()

    async def send(self, text_data=None, bytes_data=None, close=False):
        await asyncio.sleep(0)
        self.frames.append(("bytes", bytes_data) if bytes_data is not None else ("text", json.loads(text_data)))

    async def close(self, code=None, reason=None):
        self.frames.append(("close", code))
        self.closed.set()


async def test_output_queued_behind_a_send_leaves_as_one_frame_in_order_with_messages():
    socket = RecordingSocket()
    client = TerminalClient(socket, readonly=False)
    client.send_output(b"one ")
    client.send_output(b"two ")
    client.send_output(b"three")
    client.send_message({"type": "size", "cols": 80, "rows": 24})
    client.send_output(b"four")
    client.close(1000)
    client.start()
    await asyncio.wait_for(socket.closed.wait(), 5)

    assert socket.frames == [
        ("bytes", b"one two three"),
        ("text", {"type": "size", "cols": 80, "rows": 24}),
        ("bytes", b"four"),
        ("close", 1000),
    ]


async def test_joined_output_frames_stay_within_the_frame_limit():
    socket = RecordingSocket()
    client = TerminalClient(socket, readonly=False)
    chunk = b"x" * (64 * 1024)
    for _ in range(10):
        client.send_output(chunk)
    client.close(1000)
    client.start()
    await asyncio.wait_for(socket.closed.wait(), 5)

    sizes = [len(payload) for kind, payload in socket.frames if kind == "bytes"]
    assert sum(sizes) == 10 * len(chunk)
    assert max(sizes) <= MAX_OUTPUT_FRAME_BYTES
    assert len(sizes) == 3


# Size policy --------------------------------------------------------------------------------


def test_the_pty_takes_the_smallest_size_among_writers_that_sent_one():
    assert effective_size([(120, 40), None, (100, 50)], (80, 24)) == (100, 40)


def test_the_pty_keeps_its_size_while_no_writer_sent_one():
    assert effective_size([None, None], (132, 43)) == (132, 43)
    assert effective_size([], (80, 24)) == (80, 24)


# Control messages -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "message",
    [
        {"type": "resize", "cols": 1, "rows": 1000},
        {"type": "signal", "name": "SIGINT"},
        {"type": "ack", "bytes": 0},
        {"type": "ping"},
    ],
)
def test_it_accepts_valid_control_messages(message):
    assert parse_control_message(json.dumps(message)) == message


@pytest.mark.parametrize(
    "text",
    [
        "",
        "{",
        "[]",
        '{"type": 3}',
        '{"type": "resize", "cols": 80}',
        '{"type": "resize", "cols": true, "rows": 24}',
        '{"type": "resize", "cols": 80.5, "rows": 24}',
        '{"type": "resize", "cols": 1001, "rows": 24}',
        '{"type": "signal", "name": "9"}',
        '{"type": "ack"}',
        '{"type": "ack", "bytes": "12"}',
        '{"type": "ping", "data": 1}',
    ],
)
def test_it_rejects_invalid_control_messages(text):
    with pytest.raises(ControlMessageError):
        parse_control_message(text)


# The shell -----------------------------------------------------------------------------------------


def test_the_shell_environment_is_an_allowlist(tmp_path):
    platform_env = {
        "SECRET_KEY": "s3cret",
        "DATABASE_URL": "postgres://x",
        "METRICS_TOKEN": "t",
        "PATH": "/platform/.venv/bin:/usr/bin",
        "VIRTUAL_ENV": "/platform/.venv",
        "LC_ALL": "de_DE.UTF-8",
        "TZ": "Europe/Berlin",
        "HOME": "/root",
    }

    env = shell_environment(tmp_path, 7, "Demo\x1b[2J", source=platform_env)

    assert set(env) == {
        "PATH",
        "HOME",
        "TERM",
        "COLORTERM",
        "LANG",
        "LC_ALL",
        "TZ",
        "DEVBENCH_WORKSPACE_ROOT",
        "DEVBENCH_WORKSPACE_ID",
        "DEVBENCH_WORKSPACE_NAME",
    }
    assert env["PATH"] == "/usr/local/bin:/usr/bin:/bin"
    assert env["HOME"] == str(tmp_path / ".devbench" / "home")
    assert env["LANG"] == "C.UTF-8"
    assert env["TERM"] == "xterm-256color"
    assert env["DEVBENCH_WORKSPACE_NAME"] == "Demo[2J"


@pytest.mark.parametrize("planted", [".devbench", ".devbench/home"])
def test_it_refuses_to_write_through_a_folder_the_workspace_made_a_link(tmp_path, planted):
    workspace, elsewhere = tmp_path / "ws", tmp_path / "elsewhere"
    (workspace / ".devbench").mkdir(parents=True)
    elsewhere.mkdir()
    if planted == ".devbench":
        (workspace / ".devbench").rmdir()
    (workspace / planted).symlink_to(elsewhere)

    with pytest.raises(UnsafeWorkspacePath):
        prepare_shell(workspace, 7, "Demo")

    assert list(elsewhere.iterdir()) == []


def test_it_replaces_an_rc_file_the_workspace_made_a_link_instead_of_writing_through_it(tmp_path):
    workspace, outside = tmp_path / "ws", tmp_path / "outside.txt"
    (workspace / ".devbench").mkdir(parents=True)
    outside.write_text("not the platform's to change")
    (workspace / ".devbench" / "bashrc").symlink_to(outside)

    prepare_shell(workspace, 7, "Demo")

    assert outside.read_text() == "not the platform's to change"
    assert not (workspace / ".devbench" / "bashrc").is_symlink()
    assert (workspace / ".devbench" / "bashrc").read_text() == RC_FILE


def test_it_writes_the_rc_file_and_home_into_the_workspace(tmp_path):
    command = prepare_shell(tmp_path, 7, "Demo")

    assert Path(command.argv[0]).name == "bash"
    assert command.argv[1:] == ["--noprofile", "--rcfile", str(tmp_path / ".devbench" / "bashrc"), "-i"]
    assert (tmp_path / ".devbench" / "bashrc").read_text() == RC_FILE
    assert (tmp_path / ".devbench" / "home").is_dir()
    assert command.env["SHELL"] == command.argv[0]
