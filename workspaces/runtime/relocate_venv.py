"""Move a virtualenv's remaining files from the path it was made for to the one it has now.

Run in the workspace (inside its sandbox, when there is one) after virtualenv
has been run over the venv at its new path, which rewrote virtualenv's own
files (interpreter links, activate scripts, pip). This rewrites the rest:

- scripts in ``bin/`` that name the old venv (console scripts of installed
  packages: ``#!/old/.venv/bin/python``);
- ``.pth`` files and editable-install finders in site-packages that name the
  old workspace root (``pip install -e .``);
- and removes ``__pycache__`` below the venv's ``lib/``, whose compiled files
  carry the old paths into tracebacks; Python writes them again on import.

Usage: python relocate_venv.py OLD_VENV NEW_VENV. Standard library only.
"""

import os
import shutil
import sys

SCRIPT_MAX_BYTES = 1024 * 1024


def rewrite(path, replacements):
    """Replace each (old, new) text in the file at ``path``; True if it changed. Binary files are skipped."""
    if os.path.islink(path) or not os.path.isfile(path) or os.path.getsize(path) > SCRIPT_MAX_BYTES:
        return False
    with open(path, "rb") as stream:
        content = stream.read()
    if b"\0" in content:
        return False
    changed = content
    for old, new in replacements:
        changed = changed.replace(old.encode(), new.encode())
    if changed == content:
        return False
    mode = os.stat(path).st_mode & 0o7777
    temporary = path + ".relocating"
    with open(temporary, "wb") as stream:
        stream.write(changed)
    os.chmod(temporary, mode)
    os.replace(temporary, path)
    return True


def main(old_venv, new_venv):
    old_venv = os.path.normpath(old_venv)
    new_venv = os.path.normpath(new_venv)
    old_root = os.path.dirname(old_venv)
    new_root = os.path.dirname(new_venv)
    changed = 0
    bin_dir = os.path.join(new_venv, "bin")
    for name in sorted(os.listdir(bin_dir)):
        changed += rewrite(os.path.join(bin_dir, name), [(old_venv + "/", new_venv + "/")])
    lib_dir = os.path.join(new_venv, "lib")
    for directory, subdirectories, files in os.walk(lib_dir):
        if "__pycache__" in subdirectories:
            subdirectories.remove("__pycache__")
            shutil.rmtree(os.path.join(directory, "__pycache__"), ignore_errors=True)
        if os.path.basename(directory) != "site-packages":
            continue
        for name in files:
            if name.endswith(".pth") or (name.startswith("__editable__") and name.endswith(".py")):
                # The root itself ends in "/", a line end or a quote (a project at the root).
                pairs = [(old_root + end, new_root + end) for end in ("/", "\n", "'", '"')]
                changed += rewrite(os.path.join(directory, name), pairs)
    print(f"relocated {changed} file(s) from {old_venv} to {new_venv}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
