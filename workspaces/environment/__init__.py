"""Workspace environment hooks: pip in a workspace's venv is noticed by the platform.

- ``installer.install_hooks`` puts the pip hook and the ``devbench-env`` CLI into a venv
  (``venv_files/`` holds their sources; they run in the workspace's Python, stdlib only);
- ``watcher.EnvironmentWatcher`` tells terminal, language-server and runner sessions when
  packages changed or a runner restart was asked for, and audits every pip call.

Nothing is imported here, so the runtime can import the installer without loading Django models.
See docs/environment.md.
"""
