"""The interactive shell a terminal session runs: its argv, its environment and its rc file.

The environment is built from scratch (an allowlist), never copied from the
platform's: the platform's own secrets (SECRET_KEY, DATABASE_URL, tokens)
must not reach a workspace shell.
"""

import os
import posixpath
import shutil
from dataclasses import dataclass
from pathlib import Path

from workspaces.platform_writes import make_directories, write_file
from workspaces.runtime.base import SYSTEM_PATH

# Deliberately not the platform's PATH, which may lead into the platform's own venv.
MINIMAL_PATH = SYSTEM_PATH
# Taken over from the platform's environment when set: locale and time zone only.
_ALLOWED_NAMES = ("LANG", "TZ")
_ALLOWED_PREFIXES = ("LC_",)

RC_RELATIVE_PATH = Path(".devbench") / "bashrc"
HOME_RELATIVE_PATH = Path(".devbench") / "home"

# POSIX sh syntax throughout (bash-only parts are guarded): when bash is
# missing, sh reads the same file through $ENV.
RC_FILE = r"""# Written by Devbench each time a terminal opens; edits here are overwritten.
# Put your own settings in .devbench/home/.bashrc (sourced below).
if [ -n "$BASH_VERSION" ]; then
    __devbench_dir() {
        case "$PWD" in
            "$DEVBENCH_WORKSPACE_ROOT") printf '/workspace' ;;
            "$DEVBENCH_WORKSPACE_ROOT"/*) printf '/workspace%s' "${PWD#"$DEVBENCH_WORKSPACE_ROOT"}" ;;
            *) printf '%s' "$PWD" ;;
        esac
    }
    PS1='\[\033[01;34m\]$(__devbench_dir)\[\033[00m\]\$ '
    HISTFILE="$HOME/.bash_history"
    HISTCONTROL=ignoreboth
    shopt -s checkwinsize histappend 2>/dev/null
    alias ls='ls --color=auto'
else
    PS1='$ '
fi
if [ -f "$HOME/.bashrc" ]; then
    . "$HOME/.bashrc"
fi
if [ -f "$DEVBENCH_WORKSPACE_ROOT/.venv/bin/activate" ]; then
    . "$DEVBENCH_WORKSPACE_ROOT/.venv/bin/activate"
    printf '\033[2mDevbench: you are in the .venv of workspace "%s".\n' "$DEVBENCH_WORKSPACE_NAME"
    printf '  pip install <package> here updates the IDE (completion, runner).\n'
    printf '  devbench-env logs lists recent pip runs; devbench-env restart-runner restarts the runner.\033[0m\n'
else
    printf '\033[2mDevbench: workspace "%s" has no .venv yet; python and pip are the system'"'"'s.\033[0m\n' \
        "$DEVBENCH_WORKSPACE_NAME"
fi
"""


@dataclass(frozen=True)
class ShellCommand:
    argv: list[str]
    env: dict[str, str]


def locale_environment(source: dict[str, str] | None = None) -> dict[str, str]:
    """The platform's locale and time zone (an allowlist), the start of every workspace process's environment."""
    source = os.environ if source is None else source
    env = {
        name: value for name, value in source.items() if name in _ALLOWED_NAMES or name.startswith(_ALLOWED_PREFIXES)
    }
    env.setdefault("LANG", "C.UTF-8")
    return env


def shell_environment(process_root: str, workspace_id: int, workspace_name: str, source: dict[str, str] | None = None):
    """The shell's whole environment: terminal settings plus an allowlist of the platform's locale.

    ``process_root`` is the workspace's root as the shell sees it (the
    runtime's ``process_root``: /workspace in a sandbox).
    """
    env = locale_environment(source)
    env.update(
        {
            "PATH": MINIMAL_PATH,
            "HOME": posixpath.join(process_root, HOME_RELATIVE_PATH.as_posix()),
            "TERM": "xterm-256color",
            "COLORTERM": "truecolor",
            "DEVBENCH_WORKSPACE_ROOT": process_root,
            "DEVBENCH_WORKSPACE_ID": str(workspace_id),
            # Printed by the rc file: no control characters that could drive the terminal.
            "DEVBENCH_WORKSPACE_NAME": "".join(char for char in workspace_name if char.isprintable()),
        }
    )
    return env


def prepare_shell(
    root: Path, workspace_id: int, workspace_name: str, *, process_root: str | None = None
) -> ShellCommand:
    """Write the rc file and home directory into the workspace; the command that starts the shell.

    ``root`` is the workspace's host directory, ``process_root`` where the
    shell sees it (default: the same). Blocking file I/O: call it in an
    executor from async code.
    """
    if not root.is_dir():
        raise FileNotFoundError("the workspace's directory is missing; reprovision the workspace.")
    process_root = process_root or str(root)
    # Never through a link: the workspace's own processes may have replaced
    # .devbench with one to make the platform write elsewhere.
    make_directories(root, HOME_RELATIVE_PATH.as_posix())
    write_file(root, RC_RELATIVE_PATH.as_posix(), RC_FILE.encode())

    env = shell_environment(process_root, workspace_id, workspace_name)
    rc_file = posixpath.join(process_root, RC_RELATIVE_PATH.as_posix())
    bash = shutil.which("bash", path=MINIMAL_PATH)
    if bash:
        argv = [bash, "--noprofile", "--rcfile", rc_file, "-i"]
    else:
        argv = [shutil.which("sh", path=MINIMAL_PATH) or "/bin/sh", "-i"]
        env["ENV"] = rc_file
    env["SHELL"] = argv[0]
    return ShellCommand(argv=argv, env=env)
