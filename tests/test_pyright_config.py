"""pyrightconfig.json: completed for the user, and never a way for the workspace to make the
platform read or write a file outside it."""

import json
import os

import pytest

from workspaces.environment.pyright_config import CONFIG_FILE, DEFAULTS, ensure_pyright_config


@pytest.fixture
def root(tmp_path):
    root = tmp_path / "ws"
    root.mkdir()
    return root


@pytest.fixture
def outside(tmp_path):
    secret = tmp_path / "platform.json"
    secret.write_text('{"secret": "do not show"}')
    return secret


def test_it_writes_the_defaults_and_keeps_the_users_own_keys(root):
    assert ensure_pyright_config(root) is True
    assert json.loads((root / CONFIG_FILE).read_text()) == DEFAULTS

    (root / CONFIG_FILE).write_text('{"typeCheckingMode": "strict"}')
    assert ensure_pyright_config(root) is True
    assert json.loads((root / CONFIG_FILE).read_text()) == DEFAULTS | {"typeCheckingMode": "strict"}
    assert ensure_pyright_config(root) is False
    assert sorted(path.name for path in root.iterdir()) == [CONFIG_FILE]


def test_it_leaves_a_link_a_folder_and_a_fifo_alone(root, outside):
    config = root / CONFIG_FILE
    config.symlink_to(outside)
    assert ensure_pyright_config(root) is False
    assert config.is_symlink()
    config.unlink()
    config.mkdir()
    assert ensure_pyright_config(root) is False
    config.rmdir()
    os.mkfifo(config)  # would block a naive reader forever
    assert ensure_pyright_config(root) is False

    assert outside.read_text() == '{"secret": "do not show"}'


def test_it_never_writes_through_a_link_planted_at_a_temporary_name(root, outside):
    # The temporary name used to be predictable (the process id): a link there
    # made the platform overwrite any file it can write with the config.
    os.symlink(outside, root / f".{CONFIG_FILE}.{os.getpid()}.tmp")

    assert ensure_pyright_config(root) is True

    assert outside.read_text() == '{"secret": "do not show"}'
    assert not (root / CONFIG_FILE).is_symlink()
    assert json.loads((root / CONFIG_FILE).read_text()) == DEFAULTS
