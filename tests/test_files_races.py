"""The files API under a symbolic link that changes while a request is served.

A workspace user can swap a link in the terminal as fast as the machine allows
while someone reads or writes through it. Whatever the timing, the platform must
answer with what lies inside the workspace, or refuse: never serve, list or write
what lies outside. Each test hammers the endpoints in a bounded loop while a
thread swaps the link, and also checks that both sides of the race were seen, so
it cannot pass without the race having happened.
"""

import os
import threading
import time
import uuid
from collections import Counter
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.conftest import make_ready

# The old check-then-open code served the outside file within the first 50
# tries (under a second) in every measured run; the bound leaves a wide margin.
MAX_TRIES = 2000
MAX_SECONDS = 10.0


@contextmanager
def swapping(link: Path, targets: tuple[str, str]):
    """Point ``link`` at each target in turn, atomically and as fast as possible, until the block ends."""
    stop = threading.Event()
    failures: list[BaseException] = []
    swaps = Counter()

    def swap_forever():
        spare = link.with_name(link.name + ".next")
        try:
            while not stop.is_set():
                for target in targets:
                    os.symlink(target, spare)
                    os.replace(spare, link)
                    swaps[target] += 1
        except BaseException as error:  # re-raised in the test below
            failures.append(error)

    os.symlink(targets[0], link)
    swapper = threading.Thread(target=swap_forever, daemon=True)
    swapper.start()
    try:
        yield swaps
    finally:
        stop.set()
        swapper.join(timeout=10)
    assert not swapper.is_alive()
    assert not failures, failures
    assert all(swaps[target] > 0 for target in targets)


def bounded_tries():
    deadline = time.monotonic() + MAX_SECONDS
    for attempt in range(MAX_TRIES):
        if time.monotonic() > deadline:
            return
        yield attempt


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def url(workspace, endpoint: str, path: str) -> str:
    return f"/api/v1/workspaces/{workspace.pk}/files/{endpoint}?path={quote(path, safe='')}"


@pytest.fixture
def owner(api, personas):
    return api.as_user(personas.owner)


@pytest.fixture
def outside(personas, tmp_path) -> Path:
    """A folder beside the workspace holding a secret and a name found nowhere inside."""
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "data.txt").write_text(f"secret-{uuid.uuid4()}")
    (folder / "outside-only.txt").write_text("")
    return folder


def snapshot(folder: Path) -> dict:
    return {path.name: path.read_bytes() for path in folder.iterdir()}


def test_it_never_serves_the_outside_target_of_a_file_link_swapped_mid_request(owner, personas, outside):
    root = make_ready(personas.workspace)
    (root / "inside.txt").write_text("inside\n")
    secret = (outside / "data.txt").read_bytes()
    statuses = Counter()

    with swapping(root / "swapped", ("inside.txt", str(outside / "data.txt"))):
        for _ in bounded_tries():
            for endpoint in ("content/", "download/"):
                response = owner.get(url(personas.workspace, endpoint, "swapped"))
                assert secret not in body(response), f"{endpoint} served the file outside the workspace"
                statuses[response.status_code] += 1

    assert statuses[200] and statuses[403], statuses
    assert set(statuses) <= {200, 403}, statuses


def test_it_never_reads_lists_or_writes_outside_through_a_folder_link_swapped_mid_request(owner, personas, outside):
    root = make_ready(personas.workspace)
    (root / "sub").mkdir()
    (root / "sub" / "data.txt").write_text("inside\n")
    secret = (outside / "data.txt").read_bytes()
    before = snapshot(outside)
    statuses = Counter()

    with swapping(root / "swapped", ("sub", str(outside))):
        for attempt in bounded_tries():
            responses = {
                "content": owner.get(url(personas.workspace, "content/", "swapped/data.txt")),
                "download": owner.get(url(personas.workspace, "download/", "swapped/data.txt")),
                "list": owner.get(url(personas.workspace, "", "swapped")),
                "save": owner.put(
                    url(personas.workspace, "content/", f"swapped/saved-{attempt}.txt"),
                    {"content": "x", "etag": None},
                    format="json",
                ),
                "upload": owner.post(
                    f"/api/v1/workspaces/{personas.workspace.pk}/files/upload/",
                    {"file": SimpleUploadedFile(f"uploaded-{attempt}.txt", b"x"), "directory": "swapped"},
                    format="multipart",
                ),
            }
            for name, response in responses.items():
                content = body(response)
                assert secret not in content and b"outside-only" not in content, f"{name} reached outside"
                statuses[response.status_code] += 1

    assert snapshot(outside) == before, "a write landed outside the workspace"
    assert statuses[200] and statuses[201] and statuses[403], statuses
    assert set(statuses) <= {200, 201, 403}, statuses
