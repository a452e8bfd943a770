"""The files API: the tree, reading and saving with etags, create/move/delete,
upload/download, size and encoding limits, roles, and that no path or symbolic
link ever reaches outside the workspace (deterministic cases plus properties)."""

import contextlib
import hashlib
import os
import shutil
import stat
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from hypothesis import HealthCheck, example, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from platform_core.models import AuditLog
from tests.conftest import make_ready
from workspaces import files


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def quoted(path: str) -> str:
    # surrogatepass: generated paths may hold lone surrogates, which only the
    # query string can carry (JSON encoding refuses them on the client side).
    return quote(path.encode("utf-8", "surrogatepass"), safe="")


def url(workspace, endpoint: str = "", path: str | None = None, **query) -> str:
    base = f"/api/v1/workspaces/{workspace.pk}/files/{endpoint}"
    params = [f"path={quoted(path)}"] if path is not None else []
    params += [f"{key}={quote(str(value), safe='')}" for key, value in query.items()]
    return base + ("?" + "&".join(params) if params else "")


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert error["code"] == code, error
    assert set(error) == {"code", "message", "details"}
    return error


def is_inside(path: Path | str, root: Path) -> bool:
    real_root = os.path.realpath(root)
    real = os.path.realpath(path)
    return real == real_root or real.startswith(real_root + os.sep)


def upload(client, workspace, name: str, data: bytes, **fields):
    payload = {"file": SimpleUploadedFile(name, data)} | fields
    return client.post(url(workspace, "upload/"), payload, format="multipart")


@pytest.fixture
def root(personas) -> Path:
    root = make_ready(personas.workspace)
    (root / "sub").mkdir()
    (root / "sub" / "inner.txt").write_text("inner\n")
    (root / "main.py").write_text('print("hello")\n')
    return root


@pytest.fixture
def owner(api, personas):
    return api.as_user(personas.owner)


# --- tree, read, write --------------------------------------------------------------------------


def test_it_lists_one_level_with_folders_first(owner, personas, root):
    (root / "b_dir").mkdir()
    (root / "A_dir" / "deep").mkdir(parents=True)
    (root / "A_dir" / "deep" / "hidden.txt").write_text("x")
    (root / "a.txt").write_text("abc")
    (root / "Z.txt").write_text("z")

    top = owner.get(url(personas.workspace))
    nested = owner.get(url(personas.workspace, path="A_dir"))

    assert top.status_code == 200, top.content
    entries = top.json()["entries"]
    assert [entry["name"] for entry in entries] == ["A_dir", "b_dir", "sub", "a.txt", "main.py", "Z.txt"]
    assert {entry["type"] for entry in entries[:3]} == {"directory"}
    assert next(entry for entry in entries if entry["name"] == "a.txt")["size"] == 3
    assert nested.json()["path"] == "A_dir"
    assert [(entry["name"], entry["path"], entry["type"]) for entry in nested.json()["entries"]] == [
        ("deep", "A_dir/deep", "directory")
    ]


def test_it_reads_a_file_with_its_etag(owner, personas, root):
    response = owner.get(url(personas.workspace, "content/", "sub/inner.txt"))

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["content"] == "inner\n"
    assert body["path"] == "sub/inner.txt"
    assert body["etag"] == sha256(b"inner\n")


def test_it_saves_with_the_loaded_etag_and_answers_the_new_one(owner, personas, root):
    loaded = owner.get(url(personas.workspace, "content/", "main.py")).json()

    saved = owner.put(
        url(personas.workspace, "content/", "main.py"), {"content": "print(2)\n", "etag": loaded["etag"]}, format="json"
    )

    assert saved.status_code == 200, saved.content
    assert saved.json()["etag"] == sha256(b"print(2)\n") != loaded["etag"]
    assert (root / "main.py").read_text() == "print(2)\n"


def test_it_refuses_a_stale_etag_and_keeps_the_newer_file(owner, personas, root):
    loaded = owner.get(url(personas.workspace, "content/", "main.py")).json()
    (root / "main.py").write_text("edited in the terminal\n")

    stale = owner.put(
        url(personas.workspace, "content/", "main.py"),
        {"content": "my version\n", "etag": loaded["etag"]},
        format="json",
    )

    error = assert_error(stale, 409, "conflict")
    assert error["details"]["current_etag"] == sha256(b"edited in the terminal\n")
    assert (root / "main.py").read_text() == "edited in the terminal\n"
    retried = owner.put(
        url(personas.workspace, "content/", "main.py"),
        {"content": "merged\n", "etag": error["details"]["current_etag"]},
        format="json",
    )
    assert retried.status_code == 200


def test_it_creates_a_file_when_the_etag_is_null_but_never_overwrites_one(owner, personas, root):
    created = owner.put(
        url(personas.workspace, "content/", "new.py"), {"content": "x = 1\n", "etag": None}, format="json"
    )
    again = owner.put(url(personas.workspace, "content/", "new.py"), {"content": "lost\n", "etag": None}, format="json")

    assert created.status_code == 200, created.content
    error = assert_error(again, 409, "conflict")
    assert error["details"]["current_etag"] == sha256(b"x = 1\n")
    assert (root / "new.py").read_text() == "x = 1\n"


def test_it_reports_a_file_deleted_since_it_was_opened(owner, personas, root):
    loaded = owner.get(url(personas.workspace, "content/", "main.py")).json()
    (root / "main.py").unlink()

    response = owner.put(
        url(personas.workspace, "content/", "main.py"), {"content": "x", "etag": loaded["etag"]}, format="json"
    )

    assert assert_error(response, 409, "conflict")["details"] == {"current_etag": None}
    assert not (root / "main.py").exists()


# --- create, move, delete ------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["file", "directory"])
def test_it_creates_files_and_folders_once(owner, personas, root, kind):
    first = owner.post(url(personas.workspace), {"path": "sub/made", "type": kind}, format="json")
    second = owner.post(url(personas.workspace), {"path": "sub/made", "type": kind}, format="json")

    assert first.status_code == 201, first.content
    assert first.json()["path"] == "sub/made"
    assert first.json()["type"] == kind
    assert (root / "sub" / "made").is_dir() == (kind == "directory")
    assert (root / "sub" / "made").exists()
    assert_error(second, 409, "exists")


def test_it_moves_into_a_folder_and_renames(owner, personas, root):
    moved = owner.post(
        url(personas.workspace, "move/"), {"source": "main.py", "destination": "sub/main.py"}, format="json"
    )
    renamed = owner.post(url(personas.workspace, "move/"), {"source": "sub", "destination": "src"}, format="json")

    assert moved.status_code == 200, moved.content
    assert renamed.status_code == 200, renamed.content
    assert renamed.json()["path"] == "src"
    assert sorted(path.name for path in (root / "src").iterdir()) == ["inner.txt", "main.py"]
    assert not (root / "main.py").exists()
    assert not (root / "sub").exists()


def test_it_never_moves_onto_an_existing_entry(owner, personas, root):
    (root / "sub" / "main.py").write_text("other\n")

    response = owner.post(
        url(personas.workspace, "move/"), {"source": "main.py", "destination": "sub/main.py"}, format="json"
    )

    assert_error(response, 409, "exists")
    assert (root / "main.py").read_text() == 'print("hello")\n'
    assert (root / "sub" / "main.py").read_text() == "other\n"


def test_it_refuses_to_move_a_folder_into_itself(owner, personas, root):
    response = owner.post(url(personas.workspace, "move/"), {"source": "sub", "destination": "sub/sub"}, format="json")

    assert_error(response, 400, "invalid_move")
    assert (root / "sub" / "inner.txt").exists()


def test_it_refuses_to_move_a_folder_into_itself_through_a_symlink(owner, personas, root):
    os.symlink("sub", root / "sub_link")

    response = owner.post(
        url(personas.workspace, "move/"), {"source": "sub", "destination": "sub_link/sub"}, format="json"
    )

    assert_error(response, 400, "invalid_move")
    assert (root / "sub" / "inner.txt").exists()


def test_it_deletes_a_file(owner, personas, root):
    response = owner.delete(url(personas.workspace, path="main.py"))

    assert response.status_code == 204
    assert not (root / "main.py").exists()


def test_it_deletes_a_non_empty_folder_only_when_asked_to_recurse(owner, personas, root):
    refused = owner.delete(url(personas.workspace, path="sub"))
    assert_error(refused, 409, "not_empty")
    assert (root / "sub" / "inner.txt").exists()

    deleted = owner.delete(url(personas.workspace, path="sub", recursive="true"))

    assert deleted.status_code == 204
    assert not (root / "sub").exists()


def test_it_audits_each_file_delete_with_the_path_and_never_the_contents(owner, personas, root):
    secret = f"contents-{uuid.uuid4()}"
    (root / "notes.txt").write_text(secret)

    owner.delete(url(personas.workspace, path="notes.txt"))
    owner.delete(url(personas.workspace, path="sub", recursive="1"))
    owner.delete(url(personas.workspace, path="missing.txt"))  # a 404 deletes nothing and is not audited

    rows = list(AuditLog.objects.filter(action="file.delete").order_by("id"))
    assert [(row.metadata["path"], row.metadata["type"]) for row in rows] == [
        ("notes.txt", "file"),
        ("sub", "directory"),
    ]
    assert all(row.workspace_id == personas.workspace.pk and row.actor == personas.owner for row in rows)
    assert all(secret not in str(row.metadata) + str(row.changes) + row.target_label for row in rows)


# --- upload, download ----------------------------------------------------------------------------


def test_it_uploads_a_file_and_refuses_to_overwrite_unless_asked(owner, personas, root):
    first = upload(owner, personas.workspace, "data.bin", b"\x00\x01binary", directory="sub")
    clash = upload(owner, personas.workspace, "data.bin", b"replacement", directory="sub")
    assert (root / "sub" / "data.bin").read_bytes() == b"\x00\x01binary"
    replaced = upload(owner, personas.workspace, "data.bin", b"replacement", directory="sub", overwrite="true")

    assert first.status_code == 201, first.content
    assert first.json()["path"] == "sub/data.bin"
    assert_error(clash, 409, "exists")
    assert replaced.status_code == 201
    assert (root / "sub" / "data.bin").read_bytes() == b"replacement"


def test_it_uploads_an_empty_file(owner, personas, root):
    response = upload(owner, personas.workspace, "__init__.py", b"", directory="sub")

    assert response.status_code == 201, response.content
    assert response.json()["path"] == "sub/__init__.py"
    assert response.json()["size"] == 0
    assert (root / "sub" / "__init__.py").read_bytes() == b""


def test_it_overwrites_a_file_with_an_empty_upload(owner, personas, root):
    response = upload(owner, personas.workspace, "inner.txt", b"", directory="sub", overwrite="true")

    assert response.status_code == 201, response.content
    assert (root / "sub" / "inner.txt").read_bytes() == b""


def test_it_downloads_the_exact_bytes_as_an_attachment(owner, personas, root):
    data = bytes(range(256)) * 64
    (root / "sub" / "blob.bin").write_bytes(data)

    response = owner.get(url(personas.workspace, "download/", "sub/blob.bin"))

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == data
    assert response["Content-Disposition"].startswith("attachment")
    assert 'filename="blob.bin"' in response["Content-Disposition"]


# --- limits and encodings ------------------------------------------------------------------------


def test_it_refuses_to_open_a_file_over_the_size_limit(owner, personas, root, settings):
    settings.FILES_MAX_BYTES = 1024
    (root / "big.txt").write_text("a" * 1025)
    (root / "fits.txt").write_text("a" * 1024)

    assert_error(owner.get(url(personas.workspace, "content/", "big.txt")), 413, "file_too_large")
    assert owner.get(url(personas.workspace, "content/", "fits.txt")).status_code == 200


def test_it_refuses_to_save_content_over_the_size_limit(owner, personas, root, settings):
    settings.FILES_MAX_BYTES = 1024

    response = owner.put(
        url(personas.workspace, "content/", "big.txt"), {"content": "é" * 513, "etag": None}, format="json"
    )

    assert_error(response, 413, "file_too_large")
    assert not (root / "big.txt").exists()


@pytest.mark.parametrize(
    "data", [b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", b"caf\xe9 latin-1\n"], ids=["binary", "not-utf8"]
)
def test_it_refuses_to_open_files_that_are_not_utf8_text(owner, personas, root, data):
    (root / "file.dat").write_bytes(data)

    assert_error(owner.get(url(personas.workspace, "content/", "file.dat")), 415, "binary_file")


BAD_PATHS = {
    "nul-byte": ("main\x00.py", "invalid_path"),
    "absolute": ("/etc/passwd", "invalid_path"),
    "home": ("~/main.py", "invalid_path"),
    "dot-dot": ("sub/../../main.py", "invalid_path"),
    "backslash": ("sub\\inner.txt", "invalid_path"),
    "name-too-long": ("sub/" + "é" * 128, "name_too_long"),
    "path-too-long": ("a/" * 600, "path_too_long"),
}


@pytest.mark.parametrize("relative,code", BAD_PATHS.values(), ids=BAD_PATHS.keys())
def test_it_refuses_invalid_paths_on_every_operation(owner, personas, root, relative, code):
    workspace = personas.workspace
    before = sorted(str(path) for path in root.rglob("*"))

    responses = [
        owner.get(url(workspace, path=relative)),
        owner.get(url(workspace, "content/", relative)),
        owner.get(url(workspace, "download/", relative)),
        owner.put(url(workspace, "content/", relative), {"content": "x", "etag": None}, format="json"),
        owner.post(url(workspace), {"path": relative, "type": "file"}, format="json"),
        owner.post(url(workspace, "move/"), {"source": "main.py", "destination": relative}, format="json"),
        owner.post(url(workspace, "move/"), {"source": relative, "destination": "moved.py"}, format="json"),
        owner.delete(url(workspace, path=relative, recursive="true")),
        upload(owner, workspace, "up.txt", b"x", directory=relative),
    ]

    for response in responses:
        assert response.status_code == 400, response.content
        # DRF's CharField refuses NUL in JSON bodies before the files layer sees them.
        assert response.json()["error"]["code"] in ({code, "invalid"} if "\x00" in relative else {code})
    assert sorted(str(path) for path in root.rglob("*")) == before


def test_it_refuses_paths_too_long_for_the_filesystem_instead_of_failing(api, personas, settings, tmp_path):
    # Every name is under 255 bytes and the path under 1024 characters, but in
    # UTF-8 it nears PATH_MAX; under a deep WORKSPACES_ROOT the OS refuses it.
    settings.WORKSPACES_ROOT = tmp_path / ("deep-workspaces-root-" * 4)
    make_ready(personas.workspace)
    longest = "/".join(["🙂" * 63] * 16)
    client = api.as_user(personas.owner)
    workspace = personas.workspace

    responses = [
        client.get(url(workspace, path=longest)),
        client.get(url(workspace, "content/", longest)),
        client.put(url(workspace, "content/", longest), {"content": "x", "etag": None}, format="json"),
        client.post(url(workspace), {"path": longest, "type": "directory"}, format="json"),
        client.delete(url(workspace, path=longest)),
    ]

    for response in responses:
        assert_error(response, 400, "path_too_long")


def test_it_lists_files_whose_names_are_not_utf8(owner, personas, root):
    # Made in the terminal, not through the API; the tree must still load.
    with open(os.path.join(os.fsencode(root), b"caf\xe9.txt"), "wb") as handle:
        handle.write(b"x")

    response = owner.get(url(personas.workspace))

    assert response.status_code == 200
    assert [entry["name"] for entry in response.json()["entries"]] == ["sub", "caf\ufffd.txt", "main.py"]


def test_it_answers_workspace_not_ready_before_provisioning_finishes(api, personas):
    client = api.as_user(personas.owner)
    workspace = personas.workspace

    for response in [
        client.get(url(workspace)),
        client.get(url(workspace, "content/", "main.py")),
        client.put(url(workspace, "content/", "main.py"), {"content": "x", "etag": None}, format="json"),
        client.get(url(workspace, "download/", "main.py")),
    ]:
        assert_error(response, 409, "workspace_not_ready")


# --- roles -----------------------------------------------------------------------------------------


def write_requests(client, workspace):
    return {
        "save": client.put(url(workspace, "content/", "main.py"), {"content": "x", "etag": None}, format="json"),
        "create": client.post(url(workspace), {"path": "made.txt", "type": "file"}, format="json"),
        "move": client.post(url(workspace, "move/"), {"source": "main.py", "destination": "moved.py"}, format="json"),
        "delete": client.delete(url(workspace, path="main.py")),
        "upload": upload(client, workspace, "up.txt", b"x"),
    }


def read_requests(client, workspace):
    return {
        "tree": client.get(url(workspace)),
        "content": client.get(url(workspace, "content/", "main.py")),
        "download": client.get(url(workspace, "download/", "main.py")),
    }


def test_it_lets_viewers_read_but_not_write(api, personas, root):
    client = api.as_user(personas.viewer)
    before = {path: path.read_bytes() for path in root.rglob("*") if path.is_file()}

    reads = read_requests(client, personas.workspace)
    writes = write_requests(client, personas.workspace)

    assert {name: response.status_code for name, response in reads.items()} == dict.fromkeys(reads, 200)
    for response in writes.values():
        assert_error(response, 403, "permission_denied")
    assert {path: path.read_bytes() for path in root.rglob("*") if path.is_file()} == before


def test_it_lets_editors_write(api, personas, root):
    writes = write_requests(api.as_user(personas.editor), personas.workspace)

    assert {name: response.status_code for name, response in writes.items()} == {
        "save": 409,  # main.py exists and the etag was null: authorised, then a conflict
        "create": 201,
        "move": 200,
        "delete": 404,  # main.py was just moved away
        "upload": 201,
    }


@pytest.mark.parametrize("requests", [read_requests, write_requests], ids=["reads", "writes"])
def test_it_hides_the_files_of_other_workspaces_with_404(api, personas, root, requests):
    responses = requests(api.as_user(personas.outsider), personas.workspace)

    for response in responses.values():
        assert_error(response, 404, "not_found")
    assert (root / "main.py").exists()


# --- escaping the workspace --------------------------------------------------------------------------

# name -> a path that, if followed, would read something outside the workspace
ESCAPING_LINKS = {
    "link_out": "link_out/secret.txt",  # -> the outside directory
    "link_secret": "link_secret",  # -> the secret file itself
    "link_root": "link_root/etc/passwd",  # -> /
    "link_passwd": "link_passwd",  # -> /etc/passwd
    "dangling": "dangling",  # -> a file outside that does not exist yet
    "chain": "chain/secret.txt",  # -> chain_mid -> link_out -> outside
    "rel_out": "rel_out/secret.txt",  # -> ../outside-<pk>, relative
}
OUTSIDE_NAMES = {"secret.txt", "outside-only-dir", "not-yet.txt"}


@dataclass
class EscapeTree:
    root: Path
    outside: Path
    marker: str

    def build(self) -> None:
        """(Re)create the workspace tree, a sibling directory outside it, and links between them."""
        shutil.rmtree(self.root, ignore_errors=True)
        shutil.rmtree(self.outside, ignore_errors=True)
        self.outside.mkdir(parents=True)
        (self.outside / "secret.txt").write_text(self.marker)
        (self.outside / "outside-only-dir").mkdir()
        self.root.mkdir(parents=True)
        (self.root / "sub").mkdir()
        (self.root / "sub" / "inner.txt").write_text("inner\n")
        os.symlink(self.outside, self.root / "link_out")
        os.symlink(self.outside / "secret.txt", self.root / "link_secret")
        os.symlink("/", self.root / "link_root")
        os.symlink("/etc/passwd", self.root / "link_passwd")
        os.symlink(self.outside / "not-yet.txt", self.root / "dangling")
        os.symlink("chain_mid", self.root / "chain")
        os.symlink("link_out", self.root / "chain_mid")
        os.symlink(os.path.relpath(self.outside, self.root), self.root / "rel_out")
        os.symlink("sub/inner.txt", self.root / "inside_link")
        os.symlink("sub", self.root / "sub_link")
        os.symlink("loop", self.root / "loop")

    def outside_snapshot(self) -> dict:
        """Every entry beside the workspace (not inside it), with what could change about it."""
        snapshot = {}
        for directory, names, file_names in os.walk(self.root.parent):
            if Path(directory) == self.root.parent:
                names[:] = [name for name in names if (self.root.parent / name) != self.root]
            for name in names + file_names:
                path = Path(directory) / name
                stat = path.lstat()
                content = path.read_bytes() if path.is_file() and not path.is_symlink() else None
                snapshot[str(path)] = (stat.st_mode, stat.st_size, stat.st_mtime_ns, content)
        return snapshot


@pytest.fixture
def escape_tree(personas) -> EscapeTree:
    root = make_ready(personas.workspace)
    tree = EscapeTree(root, root.parent / f"outside-{personas.workspace.pk}", f"secret-{uuid.uuid4()}")
    tree.build()
    return tree


@pytest.mark.parametrize("link", ESCAPING_LINKS)
def test_it_refuses_to_read_through_a_link_that_leads_outside(owner, personas, escape_tree, link):
    workspace, through = personas.workspace, ESCAPING_LINKS[link]

    for response in [
        owner.get(url(workspace, "content/", through)),
        owner.get(url(workspace, "download/", through)),
        owner.get(url(workspace, path=link)),
    ]:
        assert_error(response, 403, "outside_workspace")
        assert escape_tree.marker not in response.content.decode()


@pytest.mark.parametrize("link", ESCAPING_LINKS)
def test_it_refuses_to_write_through_a_link_that_leads_outside(owner, personas, escape_tree, link):
    workspace, through = personas.workspace, ESCAPING_LINKS[link]
    target = Path(os.path.realpath(escape_tree.root / through))
    # The right etag for the target, so only the path check can stop the save.
    etag = sha256(target.read_bytes()) if target.is_file() else None
    before = escape_tree.outside_snapshot()

    for response in [
        owner.put(url(workspace, "content/", through), {"content": "pwned", "etag": etag}, format="json"),
        owner.post(url(workspace), {"path": f"{link}/made", "type": "file"}, format="json"),
        upload(owner, workspace, "up.txt", b"pwned", directory=link),
        upload(owner, workspace, link, b"pwned", overwrite="true"),
        owner.post(
            url(workspace, "move/"), {"source": "sub/inner.txt", "destination": f"{link}/moved.txt"}, format="json"
        ),
        owner.post(
            url(workspace, "move/"), {"source": f"{link}/secret.txt", "destination": "stolen.txt"}, format="json"
        ),
        owner.delete(url(workspace, path=f"{link}/secret.txt")),
    ]:
        assert_error(response, 403, "outside_workspace")
    assert escape_tree.outside_snapshot() == before
    assert (escape_tree.root / "sub" / "inner.txt").read_text() == "inner\n"
    assert os.path.islink(escape_tree.root / link)


@pytest.mark.parametrize("link", ESCAPING_LINKS)
def test_it_deletes_a_link_that_leads_outside_but_never_its_target(owner, personas, escape_tree, link):
    before = escape_tree.outside_snapshot()

    response = owner.delete(url(personas.workspace, path=link, recursive="true"))

    assert response.status_code == 204, response.content
    assert not os.path.lexists(escape_tree.root / link)
    assert escape_tree.outside_snapshot() == before
    assert os.path.exists("/etc/passwd")


def test_it_shows_links_that_lead_outside_as_bare_symlinks(owner, personas, escape_tree):
    entries = {entry["name"]: entry for entry in owner.get(url(personas.workspace)).json()["entries"]}

    for link in ESCAPING_LINKS:
        assert (entries[link]["type"], entries[link]["size"], entries[link]["symlink"]) == ("symlink", None, True)
    assert (entries["inside_link"]["type"], entries["inside_link"]["size"]) == ("file", len("inner\n"))
    assert entries["sub_link"]["type"] == "directory"
    assert entries["loop"]["type"] == "symlink"


def test_it_follows_links_that_stay_inside(owner, personas, escape_tree):
    read = owner.get(url(personas.workspace, "content/", "inside_link"))
    listed = owner.get(url(personas.workspace, path="sub_link"))

    assert read.json()["content"] == "inner\n"
    assert [entry["path"] for entry in listed.json()["entries"]] == ["sub_link/inner.txt"]


def test_it_follows_absolute_links_and_links_through_parent_folders_that_stay_inside(owner, personas, escape_tree):
    root, workspace = escape_tree.root, personas.workspace
    os.symlink(root / "sub", root / "absolute_sub")
    os.symlink("../sub/inner.txt", root / "sub" / "sibling_link")
    os.symlink("..", root / "sub" / "up")

    through_absolute = owner.get(url(workspace, "content/", "absolute_sub/inner.txt"))
    through_parent = owner.get(url(workspace, "download/", "sub/sibling_link"))
    up_and_down = owner.get(url(workspace, path="sub/up/sub"))
    up_and_out = owner.get(url(workspace, "content/", "sub/up/link_out/secret.txt"))

    assert through_absolute.json()["content"] == "inner\n"
    assert b"".join(through_parent.streaming_content) == b"inner\n"
    assert "sub/up/sub/inner.txt" in [entry["path"] for entry in up_and_down.json()["entries"]]
    assert_error(up_and_out, 403, "outside_workspace")


def test_it_follows_links_made_inside_the_workspace_with_the_path_its_processes_see(owner, personas, escape_tree):
    # `ln -s /workspace/sub/inner.txt` in a terminal: the shell sees its workspace at /workspace.
    root, workspace = escape_tree.root, personas.workspace
    os.symlink("/workspace/sub/inner.txt", root / "process_path_link")
    os.symlink("/workspace/../etc/passwd", root / "process_path_escape")

    read = owner.get(url(workspace, "content/", "process_path_link"))
    escape = owner.get(url(workspace, "content/", "process_path_escape"))

    assert read.json()["content"] == "inner\n"
    assert escape.status_code in (403, 404)


def test_it_saves_through_a_link_inside_into_the_file_it_points_to_and_keeps_the_link(owner, personas, escape_tree):
    root, workspace = escape_tree.root, personas.workspace
    loaded = owner.get(url(workspace, "content/", "inside_link")).json()

    saved = owner.put(
        url(workspace, "content/", "inside_link"), {"content": "via link\n", "etag": loaded["etag"]}, format="json"
    )

    assert saved.status_code == 200, saved.content
    assert os.path.islink(root / "inside_link")
    assert (root / "sub" / "inner.txt").read_text() == "via link\n"


def test_it_refuses_a_link_loop_with_a_clear_error(owner, personas, escape_tree):
    workspace = personas.workspace

    for response in [
        owner.get(url(workspace, "content/", "loop")),
        owner.get(url(workspace, path="loop")),
        owner.put(url(workspace, "content/", "loop"), {"content": "x", "etag": None}, format="json"),
        owner.post(url(workspace), {"path": "loop/new.txt", "type": "file"}, format="json"),
    ]:
        assert "symbolic links" in assert_error(response, 400, "invalid_path")["message"]
    assert os.path.islink(escape_tree.root / "loop")


def test_it_lists_deletes_and_refuses_to_open_a_fifo_without_hanging(owner, personas, root):
    os.mkfifo(root / "pipe")
    workspace = personas.workspace

    listed = {entry["name"]: entry for entry in owner.get(url(workspace)).json()["entries"]}
    read = owner.get(url(workspace, "content/", "pipe"))
    download = owner.get(url(workspace, "download/", "pipe"))
    overwrite = owner.put(url(workspace, "content/", "pipe"), {"content": "x", "etag": None}, format="json")
    deleted = owner.delete(url(workspace, path="pipe"))

    assert listed["pipe"]["type"] == "file"
    assert_error(read, 409, "not_a_file")
    assert_error(download, 409, "not_a_file")
    assert_error(overwrite, 409, "not_a_file")
    assert deleted.status_code == 204, deleted.content
    assert not os.path.lexists(root / "pipe")


# --- properties ----------------------------------------------------------------------------------

SEGMENTS = [
    "..", ".", "", "~", "link_out", "link_secret", "link_root", "link_passwd", "dangling", "chain", "chain_mid",
    "rel_out", "inside_link", "sub_link", "loop", "sub", "inner.txt", "secret.txt", "outside-only-dir",
    "not-yet.txt", "etc", "passwd", "x",
]  # fmt: skip
TRICKY = ["\x00", "/", "\\", "..", "~", ":", "C:", "%2e", "\n", " ", "é", "🙂", "\u202e", "\ufeff", "\ud800", "\udfff"]

segment_paths = st.builds(
    lambda leading, parts, trailing: ("/" if leading else "") + "/".join(parts) + ("/" if trailing else ""),
    st.booleans(),
    st.lists(st.sampled_from(SEGMENTS), min_size=1, max_size=6),
    st.booleans(),
)
arbitrary_text = st.text(st.characters(exclude_categories=()), max_size=60)  # surrogates included
mixed_paths = st.lists(
    st.one_of(st.sampled_from(TRICKY), st.sampled_from(SEGMENTS), arbitrary_text), min_size=1, max_size=10
).map("".join)
long_paths = st.builds(
    lambda unit, count: unit * count,
    st.sampled_from(["a", "é", "🙂", "a/", "link_out/", "🙂" * 63 + "/"]),
    st.integers(100, 1200),
)
# Most generated paths are refused early ('..', NUL, ...); these aim straight at the links.
escape_attempts = st.builds(
    lambda prefix, link, suffix: prefix + link + suffix,
    st.sampled_from(["", "", "./", "/"]),
    st.sampled_from([*ESCAPING_LINKS, "chain_mid"]),
    st.sampled_from(
        ["", "/", "/secret.txt", "/./secret.txt", "/outside-only-dir", "/etc/passwd", "/not-yet.txt", "/new"]
    ),
)
any_path = st.one_of(escape_attempts, escape_attempts, segment_paths, arbitrary_text, mixed_paths, long_paths)


@pytest.fixture
def bare_escape_tree(tmp_path) -> EscapeTree:
    tree = EscapeTree(tmp_path / "workspaces" / "ws", tmp_path / "workspaces" / "outside", f"secret-{uuid.uuid4()}")
    tree.build()
    return tree


@hsettings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(relative=any_path)
@example(relative="chain/secret.txt")
def test_it_resolves_every_path_inside_the_workspace_or_refuses_it(bare_escape_tree, relative):
    root = bare_escape_tree.root
    for follow in (True, False):
        try:
            with files.locate(root, relative, follow_final_symlink=follow) as location:
                # What the walk holds open is what every operation then acts on.
                folder = os.readlink(f"/proc/self/fd/{location.directory_fd}")
                assert is_inside(folder, root), (relative, folder)
                assert "/" not in location.name and location.name not in ("..", "."), (relative, location)
                if follow and location.name:
                    with contextlib.suppress(FileNotFoundError):
                        own = os.stat(location.name, dir_fd=location.directory_fd, follow_symlinks=False)
                        assert not stat.S_ISLNK(own.st_mode), (relative, location)
        except files.FilesError as error:
            assert 400 <= error.status < 500


api_settings = hsettings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@api_settings
@given(relative=any_path)
@example(relative="link_secret")
@example(relative="chain/./secret.txt")
def test_it_never_serves_anything_from_outside_the_workspace(owner, personas, escape_tree, relative):
    content = owner.get(url(personas.workspace, "content/", relative))
    download = owner.get(url(personas.workspace, "download/", relative))

    assert content.status_code < 500 and download.status_code < 500
    assert escape_tree.marker not in content.content.decode("utf-8", "replace")
    if content.status_code == 200:
        assert is_inside(escape_tree.root / content.json()["path"], escape_tree.root)
    if download.status_code == 200:
        assert escape_tree.marker.encode() not in b"".join(download.streaming_content)


@api_settings
@given(relative=any_path)
@example(relative="dangling")
@example(relative="rel_out/new")
def test_it_never_writes_outside_the_workspace(owner, personas, escape_tree, relative):
    escape_tree.build()
    before = escape_tree.outside_snapshot()

    response = owner.put(
        url(personas.workspace, "content/", relative), {"content": "pwned", "etag": None}, format="json"
    )

    assert response.status_code < 500
    assert escape_tree.outside_snapshot() == before
    if response.status_code == 200:
        assert is_inside(escape_tree.root / response.json()["path"], escape_tree.root)


@api_settings
@given(relative=any_path)
@example(relative="link_out")
@example(relative="link_root/")
def test_it_never_lists_anything_outside_the_workspace(owner, personas, escape_tree, relative):
    response = owner.get(url(personas.workspace, path=relative))

    assert response.status_code < 500
    if response.status_code == 200:
        body = response.json()
        assert is_inside(escape_tree.root / body["path"], escape_tree.root)
        assert not OUTSIDE_NAMES & {entry["name"] for entry in body["entries"]}


# --- control characters in names ------------------------------------------------------------------

CONTROL_NAMES = {
    "tab": "a\tb.txt",
    "line-break": "a\nb.txt",
    "escape": "\x1b[31mred.txt",
    "bell": "ding\x07.txt",
    "delete": "del\x7f.txt",
    "c1-next-line": "next\x85line.txt",
    "c1-csi": "\x9b31m.txt",
}


@pytest.mark.parametrize("name", CONTROL_NAMES.values(), ids=CONTROL_NAMES.keys())
def test_it_refuses_control_characters_in_new_names_on_every_write(owner, personas, root, name):
    workspace = personas.workspace
    before = sorted(str(path) for path in root.rglob("*"))

    responses = {
        "create file": owner.post(url(workspace), {"path": f"sub/{name}", "type": "file"}, format="json"),
        "create folder": owner.post(url(workspace), {"path": name, "type": "directory"}, format="json"),
        "save": owner.put(url(workspace, "content/", f"sub/{name}"), {"content": "x", "etag": None}, format="json"),
        "rename": owner.post(url(workspace, "move/"), {"source": "main.py", "destination": name}, format="json"),
        "move": owner.post(url(workspace, "move/"), {"source": "main.py", "destination": f"sub/{name}"}, format="json"),
        "upload": upload(owner, workspace, name, b"x", directory="sub"),
    }

    for route, response in responses.items():
        error = assert_error(response, 400, "invalid_name")
        assert "control characters" in error["message"], route
        # Shown escaped: the message itself must not carry the control characters.
        assert "\\x" in error["message"] and not any(map(files.is_control_character, error["message"])), route
    assert sorted(str(path) for path in root.rglob("*")) == before


def test_it_still_opens_saves_renames_and_deletes_names_with_control_characters_made_in_the_terminal(
    owner, personas, root
):
    workspace = personas.workspace
    (root / "tab\there.txt").write_text("made in a shell\n")
    (root / "esc\x1bdir").mkdir()

    listed = owner.get(url(workspace)).json()["entries"]
    loaded = owner.get(url(workspace, "content/", "tab\there.txt"))
    saved = owner.put(
        url(workspace, "content/", "tab\there.txt"),
        {"content": "edited\n", "etag": loaded.json()["etag"]},
        format="json",
    )
    renamed = owner.post(
        url(workspace, "move/"), {"source": "tab\there.txt", "destination": "clean.txt"}, format="json"
    )
    deleted = owner.delete(url(workspace, path="esc\x1bdir"))

    assert {"tab\there.txt", "esc\x1bdir"} <= {entry["name"] for entry in listed}
    assert loaded.status_code == 200 and saved.status_code == 200, (loaded.content, saved.content)
    assert renamed.status_code == 200, renamed.content
    assert deleted.status_code == 204, deleted.content
    assert (root / "clean.txt").read_text() == "edited\n"
    assert sorted(path.name for path in root.iterdir()) == ["clean.txt", "main.py", "sub"]
