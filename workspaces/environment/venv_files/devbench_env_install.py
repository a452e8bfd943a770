"""Installs the Devbench environment hooks into the virtualenv whose Python runs this program.

The platform runs it in the workspace (inside its sandbox, when there is one)
as ``<venv>/bin/python -I -c <this file's source>``, with the files to install
as JSON on stdin: ``{"hook_module": str, "hook_pth": str, "cli": str}``. So
every path it writes is the one the workspace's processes see, and nothing is
written by the platform itself through a link the workspace could have
planted. On success it prints ``{"site_packages": str, "cli": str}``; on
failure it exits non-zero with the reason on stderr.

Standard library only, Python 3.8+: it runs in the workspace's interpreter.
"""

import json
import os
import subprocess
import sys
import sysconfig
import tempfile

HOOK_MODULE = "devbench_env_hook.py"
HOOK_PTH = "devbench_env_hook.pth"
CLI_NAME = "devbench-env"
STATE_DIR = ".devbench"
LOGS_DIR = ".pip-logs"
REFRESH_TIMEOUT_SECONDS = 60
# Linux refuses longer shebang lines (and none may contain a space).
SHEBANG_MAX_LENGTH = 127


def script_header(python):
    if " " not in python and len(python) + 2 <= SHEBANG_MAX_LENGTH:
        return "#!" + python + "\n"
    # The shell re-executes the file with the venv's Python; to Python the
    # second line is just a string expression (distlib's launcher trick).
    quoted = python.replace("'", "'\"'\"'")
    return "#!/bin/sh\n'''exec' '" + quoted + "' \"$0\" \"$@\"\n' '''\n"


def write_if_changed(path, content, mode=0o644):
    try:
        with open(path, "rb") as stream:
            if stream.read() == content:
                if os.stat(path).st_mode & 0o777 != mode:
                    os.chmod(path, mode)
                return False
    except FileNotFoundError:
        pass
    # Atomic: an interpreter starting meanwhile reads the old file or the new one, never half of one.
    directory, name = os.path.split(path)
    handle, temporary = tempfile.mkstemp(prefix="." + name + ".", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(content)
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        try:  # noqa: SIM105 - the same shape as the hook's own helpers
            os.unlink(temporary)
        except OSError:
            pass
        raise
    return True


def main():
    files = json.load(sys.stdin)
    venv = os.path.abspath(sys.prefix)
    python = os.path.join(venv, "bin", "python")
    site_packages = sysconfig.get_paths()["purelib"]
    # A venv whose interpreter lost its pyvenv.cfg answers the system's
    # site-packages; the hook must never land there.
    if not os.path.realpath(site_packages).startswith(os.path.realpath(venv) + os.sep):
        sys.exit("The virtual environment's site-packages lies outside " + os.path.basename(venv) + ".")
    os.makedirs(site_packages, exist_ok=True)
    write_if_changed(os.path.join(site_packages, HOOK_MODULE), files["hook_module"].encode("utf-8"))
    write_if_changed(os.path.join(site_packages, HOOK_PTH), files["hook_pth"].encode("utf-8"))
    cli = os.path.join(venv, "bin", CLI_NAME)
    write_if_changed(cli, (script_header(python) + files["cli"]).encode("utf-8"), mode=0o755)

    root = os.path.dirname(venv)
    for name in (STATE_DIR, LOGS_DIR):
        os.makedirs(os.path.join(root, name), exist_ok=True)
    # The venv's own Python takes the snapshot: it knows its version and its
    # packages, and runs the very code that pip calls will run later.
    refresh = subprocess.run(  # noqa: S603 - argv list, no shell
        [python, "-I", cli, "refresh", "--quiet"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        timeout=REFRESH_TIMEOUT_SECONDS,
        check=False,
    )
    if refresh.returncode != 0:
        sys.exit(refresh.stdout.decode("utf-8", "replace").strip()[-1500:] or "devbench-env refresh failed")
    print(json.dumps({"site_packages": site_packages, "cli": cli}))


if __name__ == "__main__":
    main()
