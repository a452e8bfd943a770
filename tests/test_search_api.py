"""Quick open's file list and search across files: real ripgrep, run through the
workspace runtime (in the sandbox where there is one), on real files."""

import os
import time
from pathlib import Path
from urllib.parse import urlencode

import pytest

from tests.conftest import make_ready
from workspaces import search
from workspaces.checks import RIPGREP_MISSING_WARNING, check_ripgrep
from workspaces.models import Workspace

pytestmark = pytest.mark.django_db


def list_url(workspace) -> str:
    return f"/api/v1/workspaces/{workspace.pk}/files/all/"


def search_url(workspace, **query) -> str:
    return f"/api/v1/workspaces/{workspace.pk}/files/search/?{urlencode(query)}"


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert error["code"] == code, error
    assert set(error) == {"code", "message", "details"}
    return error


def found(response) -> dict[str, list[tuple[int, int, str]]]:
    """{path: [(line, column, matched text)]} of a successful search."""
    assert response.status_code == 200, response.content
    return {
        group["path"]: [(match["line"], match["column"], match["match"]) for match in group["matches"]]
        for group in response.json()["files"]
    }


def rg_processes_with(marker: str) -> list[int]:
    """Processes (in any pid namespace we can see) whose command line holds ``marker``."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if marker.encode() in cmdline and b"--json" in cmdline:
            pids.append(int(entry.name))
    return pids


@pytest.fixture
def root(personas) -> Path:
    root = make_ready(personas.workspace)
    (root / "main.py").write_text('def greet(name):\n    print("Hello, " + name)\n\n\ngreet("world")\n')
    (root / "sub").mkdir()
    (root / "sub" / "inner.txt").write_text("inner hello\nHELLO again\n")
    return root


@pytest.fixture
def owner(api, personas):
    return api.as_user(personas.owner)


# --- the file list ---------------------------------------------------------------------------------


def test_it_lists_every_file_but_tool_folders_and_what_gitignore_ignores(owner, personas, root):
    for folder in (".git", ".venv/lib", "node_modules/pkg", "sub/__pycache__", "web/node_modules"):
        (root / folder).mkdir(parents=True)
        (root / folder / "file.py").write_text("x\n")
    (root / ".gitignore").write_text("build/\n*.log\n")
    (root / "build").mkdir()
    (root / "build" / "out.js").write_text("x\n")
    (root / "debug.log").write_text("x\n")
    (root / "sub" / ".gitignore").write_text("local.txt\n")
    (root / "sub" / "local.txt").write_text("x\n")
    (root / ".env").write_text("A=1\n")
    (root / "web" / "app.js").write_text("x\n")

    response = owner.get(list_url(personas.workspace))

    assert response.status_code == 200, response.content
    assert response.json() == {
        "files": [".env", ".gitignore", "main.py", "sub/.gitignore", "sub/inner.txt", "web/app.js"],
        "truncated": False,
    }


def test_it_cuts_the_file_list_short_and_says_so(owner, personas, root, settings):
    for number in range(5):
        (root / f"file{number}.txt").write_text("x\n")
    settings.FILES_LIST_MAX_FILES = 3

    cut = owner.get(list_url(personas.workspace)).json()
    settings.FILES_LIST_MAX_FILES = 7
    whole = owner.get(list_url(personas.workspace)).json()

    assert cut == {"files": ["file0.txt", "file1.txt", "file2.txt"], "truncated": True}
    assert len(whole["files"]) == 7 and whole["truncated"] is False


def test_it_answers_409_while_the_workspace_is_not_ready(owner, personas, root):
    Workspace.objects.filter(pk=personas.workspace.pk).update(status=Workspace.Status.PROVISIONING)

    assert_error(owner.get(list_url(personas.workspace)), 409, "workspace_not_ready")
    assert_error(owner.get(search_url(personas.workspace, q="hello")), 409, "workspace_not_ready")


# --- text and regular expressions ----------------------------------------------------------------


def test_it_finds_text_in_every_file_grouped_by_file_ignoring_case(owner, personas, root):
    response = owner.get(search_url(personas.workspace, q="hello"))

    assert found(response) == {
        "main.py": [(2, 12, "Hello")],
        "sub/inner.txt": [(1, 7, "hello"), (2, 1, "HELLO")],
    }
    body = response.json()
    assert (body["match_count"], body["file_count"], body["truncated"], body["timed_out"]) == (3, 2, False, False)
    first = body["files"][0]["matches"][0]
    assert (first["before"], first["match"], first["after"]) == ('    print("', "Hello", ', " + name)')
    assert first["end_column"] == 17


def test_it_matches_case_when_asked(owner, personas, root):
    response = owner.get(search_url(personas.workspace, q="HELLO", case="true"))

    assert found(response) == {"sub/inner.txt": [(2, 1, "HELLO")]}


def test_it_counts_columns_as_the_editor_does(owner, personas, root):
    # U+1F600 is two UTF-16 code units (Monaco's columns), four UTF-8 bytes (ripgrep's offsets).
    (root / "emoji.txt").write_text("😀 é needle\n")

    response = owner.get(search_url(personas.workspace, q="needle", path="emoji.txt"))

    assert found(response) == {"emoji.txt": [(1, 6, "needle")]}
    assert response.json()["files"][0]["matches"][0]["end_column"] == 12


def test_it_takes_text_literally_unless_asked_for_a_regex(owner, personas, root):
    (root / "dots.txt").write_text("a.c\nabc\n(x)\n")

    literal = owner.get(search_url(personas.workspace, q="a.c", path="dots.txt"))
    pattern = owner.get(search_url(personas.workspace, q="a.c", path="dots.txt", regex="true"))
    brackets = owner.get(search_url(personas.workspace, q="(x)", path="dots.txt"))

    assert found(literal) == {"dots.txt": [(1, 1, "a.c")]}
    assert found(pattern) == {"dots.txt": [(1, 1, "a.c"), (2, 1, "abc")]}
    assert found(brackets) == {"dots.txt": [(3, 1, "(x)")]}


def test_it_finds_a_regular_expression(owner, personas, root):
    (root / "lib.py").write_text("def add(a, b):\n    return a + b\n\ndef  sub(a, b): pass\n")

    response = owner.get(search_url(personas.workspace, q=r"^def\s+\w+\(", regex="true"))

    assert found(response) == {
        "lib.py": [(1, 1, "def add("), (4, 1, "def  sub(")],
        "main.py": [(1, 1, "def greet(")],
    }


def test_it_answers_a_regex_it_cannot_compile_with_400_and_the_reason(owner, personas, root):
    unclosed = owner.get(search_url(personas.workspace, q="greet(", regex="true"))
    lookahead = owner.get(search_url(personas.workspace, q="greet(?=x)", regex="true"))

    assert "unclosed group" in assert_error(unclosed, 400, "invalid_regex")["message"]
    message = assert_error(lookahead, 400, "invalid_regex")["message"]
    assert "look-around" in message
    assert "--pcre2" not in message  # ripgrep's advice for its command line is left out


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"q": ""}, "q"),
        ({"q": "two\nlines"}, "q"),
        ({"q": "x" * (search.MAX_QUERY_CHARS + 1)}, "q"),
        ({}, "q"),
        ({"q": "x", "max_results": "0"}, "max_results"),
        ({"q": "x", "regex": "perhaps"}, "regex"),
        ({"q": "x", "colour": "red"}, "colour"),
    ],
)
def test_it_refuses_a_query_it_cannot_run(owner, personas, root, query, field):
    error = assert_error(owner.get(search_url(personas.workspace, **query)), 400, "invalid")

    assert error["message"].startswith(f"{field}:"), error


# --- limits --------------------------------------------------------------------------------------


def test_it_stops_at_max_results_and_says_so(owner, personas, root, settings):
    (root / "many.txt").write_text("hit\n" * 10)
    (root / "more.txt").write_text("hit\n" * 10)

    response = owner.get(search_url(personas.workspace, q="hit", max_results=12))
    settings.SEARCH_MAX_RESULTS = 15
    over = owner.get(search_url(personas.workspace, q="hit", max_results=21))

    body = response.json()
    assert body["match_count"] == 12 and body["truncated"] is True
    assert [(group["path"], len(group["matches"])) for group in body["files"]] == [("many.txt", 10), ("more.txt", 2)]
    # Asking for more than the server's cap gets the cap, and says the rest was left out.
    assert over.json()["match_count"] == 15 and over.json()["truncated"] is True


def test_it_skips_binary_files_and_files_over_the_size_limit(owner, personas, root, settings):
    settings.SEARCH_MAX_FILE_BYTES = 4096
    (root / "image.bin").write_bytes(b"\x89PNG\x00\x00needle\n")
    (root / "huge.txt").write_text("needle\n" + "x" * 5000 + "\n")
    (root / "small.txt").write_text("needle\n")

    response = owner.get(search_url(personas.workspace, q="needle"))

    assert found(response) == {"small.txt": [(1, 1, "needle")]}


def test_it_searches_only_the_folder_or_file_asked_for(owner, personas, root):
    (root / "sub" / "deeper").mkdir()
    (root / "sub" / "deeper" / "x.txt").write_text("hello\n")
    (root / "sub_link").symlink_to("sub")

    folder = owner.get(search_url(personas.workspace, q="hello", path="sub/deeper"))
    single = owner.get(search_url(personas.workspace, q="hello", path="sub/inner.txt"))
    through_link = owner.get(search_url(personas.workspace, q="hello", path="sub_link/deeper"))

    assert found(folder) == {"sub/deeper/x.txt": [(1, 1, "hello")]}
    assert found(single) == {"sub/inner.txt": [(1, 7, "hello"), (2, 1, "HELLO")]}
    # A link inside is followed; results name the real files.
    assert found(through_link) == {"sub/deeper/x.txt": [(1, 1, "hello")]}
    assert through_link.json()["query"]["path"] == "sub/deeper"


def test_it_applies_the_workspace_gitignore_to_a_folder_search(owner, personas, root):
    (root / ".gitignore").write_text("*.log\n")
    (root / "sub" / "trace.log").write_text("hello\n")

    response = owner.get(search_url(personas.workspace, q="hello", path="sub"))

    assert set(found(response)) == {"sub/inner.txt"}


def test_it_answers_a_bad_path_like_the_files_api(owner, personas, root):
    assert_error(owner.get(search_url(personas.workspace, q="x", path="missing")), 404, "not_found")
    assert_error(owner.get(search_url(personas.workspace, q="x", path="../other")), 400, "invalid_path")
    assert_error(owner.get(search_url(personas.workspace, q="x", path="/etc")), 400, "invalid_path")
    os.mkfifo(root / "pipe")
    assert_error(owner.get(search_url(personas.workspace, q="x", path="pipe")), 400, "not_a_file")


def test_it_runs_a_catastrophic_backtracking_pattern_in_linear_time(owner, personas, root):
    # Python's re takes exponential time on these: (a+)+$ against a run of a's
    # that ends in something else tries every way to split the run.
    (root / "evil.txt").write_text(("a" * 5000 + "!\n") * 50 + "x" * 40 + "\n")

    started = time.monotonic()
    nested = owner.get(search_url(personas.workspace, q="(a+)+$", regex="true", path="evil.txt"))
    alternatives = owner.get(search_url(personas.workspace, q="(x+x+)+y", regex="true", path="evil.txt"))
    elapsed = time.monotonic() - started

    assert found(nested) == {}
    assert found(alternatives) == {}
    assert elapsed < 5


def test_it_refuses_a_pattern_that_compiles_too_large(owner, personas, root):
    started = time.monotonic()
    response = owner.get(search_url(personas.workspace, q="(?:a|b){1000}{100}", regex="true"))

    assert "size limit" in assert_error(response, 400, "invalid_regex")["message"]
    assert time.monotonic() - started < 5


def test_it_stops_a_slow_search_at_the_time_limit_and_returns_what_it_found(owner, personas, root, settings):
    # A pattern ripgrep accepts whose automaton does not fit its cache: on
    # random text of a and b it costs about a second per megabyte.
    slow = "(?:a|b)*a(?:a|b){20}[^ab]"
    (root / "a-first.txt").write_text("a" * 30 + "!\n")
    to_a_or_b = bytes(ord("a") if byte % 2 == 0 else ord("b") for byte in range(256))
    for number in range(6):
        lines = [os.urandom(60_000).translate(to_a_or_b) for _ in range(16)]
        (root / f"big{number}.txt").write_bytes(b"\n".join(lines) + b"\n")
    settings.SEARCH_TIMEOUT_SECONDS = 1

    started = time.monotonic()
    response = owner.get(search_url(personas.workspace, q=slow, regex="true", case="true"))
    elapsed = time.monotonic() - started

    body = response.json()
    assert response.status_code == 200, response.content
    assert body["timed_out"] is True
    assert [group["path"] for group in body["files"]] == ["a-first.txt"]
    assert elapsed < 4
    assert rg_processes_with(slow) == []


def test_it_says_so_when_ripgrep_is_not_installed(owner, personas, root, monkeypatch, tmp_path):
    # A machine whose system PATH has no rg on it.
    monkeypatch.setattr(search, "SYSTEM_PATH", str(tmp_path))

    error = assert_error(owner.get(search_url(personas.workspace, q="x")), 503, "search_unavailable")

    assert "ripgrep" in error["message"]
    assert_error(owner.get(list_url(personas.workspace)), 503, "search_unavailable")
    assert [warning.id for warning in check_ripgrep(None)] == [RIPGREP_MISSING_WARNING]


# --- links and permissions -----------------------------------------------------------------------


@pytest.mark.parametrize("sandbox", ["auto", "off"])
def test_it_never_follows_a_link_outside_the_workspace(owner, personas, root, settings, tmp_path, sandbox):
    settings.WORKSPACE_SANDBOX = sandbox
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("token-5f1c\n")
    os.symlink(outside, root / "link_out")
    os.symlink(outside / "secret.txt", root / "link_secret.txt")
    os.symlink("../" * 12 + str(outside).lstrip("/"), root / "relative_out")

    searched = owner.get(search_url(personas.workspace, q="token-5f1c"))
    listed = owner.get(list_url(personas.workspace))

    assert found(searched) == {}
    assert not any("secret" in path or "out" in path for path in listed.json()["files"])
    for path in ("link_out", "link_secret.txt", "relative_out", "link_out/secret.txt"):
        assert_error(owner.get(search_url(personas.workspace, q="token", path=path)), 403, "outside_workspace")


def test_viewers_may_list_and_search(api, personas, root):
    viewer = api.as_user(personas.viewer)

    assert "main.py" in viewer.get(list_url(personas.workspace)).json()["files"]
    assert found(viewer.get(search_url(personas.workspace, q="greet"))) == {
        "main.py": [(1, 5, "greet"), (5, 1, "greet")]
    }


def test_outsiders_learn_nothing_and_anonymous_callers_must_sign_in(api, personas, root):
    assert_error(api.as_user(personas.outsider).get(search_url(personas.workspace, q="x")), 404, "not_found")
    assert_error(api.as_user(personas.outsider).get(list_url(personas.workspace)), 404, "not_found")
    assert_error(api.as_user(None).get(search_url(personas.workspace, q="x")), 401, "not_authenticated")
