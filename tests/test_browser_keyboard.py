"""Keyboard and panels in headless Chromium: quick open, search across files, the
command palette, the terminal toggle and the keys that leave a terminal, formatting,
the problems panel and tabs restored after a reload (docs/keyboard.md)."""

import re

import pytest
from playwright.sync_api import expect

from platform_core.models import User
from tests.conftest import log_in, make_ready, make_user
from workspaces import services
from workspaces.models import Membership

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CURSOR = "() => { const p = window.devbench.tabs.editor.getPosition(); return [p.lineNumber, p.column]; }"
SELECTED_TEXT = (
    "() => { const e = window.devbench.tabs.editor; return e.getModel().getValueInRange(e.getSelection()); }"
)
ACTIVE_PATH = "() => window.devbench.tabs.active?.path ?? null"
EDITOR_VALUE = "() => window.devbench.tabs.editor.getModel().getValue()"
EDITOR_HAS_FOCUS = "() => window.devbench.tabs.editor.hasTextFocus()"
FOCUS_IN_TERMINAL = "() => Boolean(document.activeElement && document.activeElement.closest('.xterm'))"
TERMINAL_TEXT = """name => {
  const buffer = window.devbenchTerminals.get(name).term.buffer.active;
  const lines = [];
  for (let i = 0; i < buffer.length; i++) lines.push(buffer.getLine(i).translateToString(true));
  return lines.join("\\n");
}"""


def open_workspace(page, files: dict[str, str], *, name: str = "Keys project", username: str = "olivia"):
    owner = make_user(username)
    workspace = services.do_create_workspace(name, acting_user=owner)
    root = make_ready(workspace)
    for path, text in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    log_in(page, username)
    page.goto(f"/workspaces/{workspace.pk}/")
    expect(page.locator("[data-testid=tree-item]").first).to_be_visible()
    return workspace, root


def open_file(page, path: str):
    page.locator(f"[data-testid=tree-item][data-path='{path}']").click()
    expect(page.locator(f"[data-testid=editor-tab][data-path='{path}']")).to_have_attribute("aria-selected", "true")


def picker_keys(page, testid: str) -> list[str]:
    return (
        page.get_by_test_id(testid)
        .locator("[data-testid=quick-pick-item]")
        .evaluate_all("rows => rows.map(row => row.dataset.key)")
    )


# --- quick open ----------------------------------------------------------------------------------


def test_ctrl_p_opens_a_file_by_a_fuzzy_part_of_its_name(page):
    open_workspace(
        page,
        {
            "main.py": "print(1)\n",
            "src/app/models.py": "class User:\n    pass\n\n\nclass Team:\n    pass\n",
            "src/app/views.py": "# views\n",
            "src/mode_switch.py": "# not it\n",
            "node_modules/pkg/models.js": "// skipped\n",
            ".gitignore": "build/\n",
            "build/models_gen.py": "# ignored\n",
        },
    )
    page.locator("#editor-empty").click()

    page.keyboard.press("Control+p")
    picker = page.get_by_test_id("quick-open")
    expect(picker).to_be_visible()
    expect(picker.get_by_test_id("quick-pick-input")).to_be_focused()
    page.keyboard.type("apmod")
    expect(picker.locator("[data-testid=quick-pick-item]").first).to_have_attribute("data-key", "src/app/models.py")
    assert picker_keys(page, "quick-open") == ["src/app/models.py"]
    page.keyboard.press("Enter")

    expect(picker).to_have_count(0)
    page.wait_for_function(f"() => ({ACTIVE_PATH})() === 'src/app/models.py'")
    page.wait_for_function(EDITOR_HAS_FOCUS)

    # "name:line" goes to the line; skipped and ignored files are never offered.
    page.keyboard.press("Control+p")
    page.keyboard.type("models")
    expect(picker.locator("[data-testid=quick-pick-item]").first).to_have_attribute("data-key", "src/app/models.py")
    assert picker_keys(page, "quick-open") == ["src/app/models.py"]
    page.keyboard.press("Escape")
    expect(picker).to_have_count(0)
    page.keyboard.press("Control+p")
    page.keyboard.type("views:1")
    expect(picker.locator("[data-testid=quick-pick-item]").first).to_have_attribute("data-key", "src/app/views.py")
    page.keyboard.press("Enter")
    page.wait_for_function(f"() => ({ACTIVE_PATH})() === 'src/app/views.py'")
    page.locator("[data-testid=editor-tab][data-path='src/app/models.py']").click()
    page.keyboard.press("Control+p")
    page.keyboard.type("models.py:5:7")
    page.keyboard.press("Enter")
    page.wait_for_function(f"() => JSON.stringify(({CURSOR})()) === '[5,7]'")
    assert page.js_errors == []


def test_quick_open_sees_files_made_after_the_page_loaded(page):
    _, root = open_workspace(page, {"main.py": "print(1)\n"})
    page.keyboard.press("Control+p")
    expect(
        page.get_by_test_id("quick-open").locator("[data-testid=quick-pick-item][data-key='main.py']")
    ).to_have_count(1)
    page.keyboard.type("made")
    expect(page.get_by_test_id("quick-open").get_by_test_id("quick-pick-empty")).to_be_visible()
    page.keyboard.press("Escape")

    (root / "made_in_terminal.py").write_text("x = 1\n")
    page.keyboard.press("Control+p")
    page.keyboard.type("made")

    expect(page.get_by_test_id("quick-open").locator("[data-testid=quick-pick-item]").first).to_have_attribute(
        "data-key", "made_in_terminal.py"
    )


# --- search across files -------------------------------------------------------------------------


def test_ctrl_shift_f_finds_text_and_regex_and_opens_the_file_at_the_match(page):
    open_workspace(
        page,
        {
            "main.py": "import lib\n\nlib.find_needle()\n",
            "lib/__init__.py": "def find_needle():\n    return 'NEEDLE'\n\n# another needle here\n",
            "notes.txt": "haystack only\n",
        },
    )
    page.locator("#editor-empty").click()

    page.keyboard.press("Control+Shift+F")
    query = page.get_by_test_id("search-input")
    expect(query).to_be_focused()
    query.fill("needle")

    summary = page.get_by_test_id("search-summary")
    expect(summary).to_have_text("4 results in 2 files")
    groups = page.get_by_test_id("search-file")
    expect(groups).to_have_count(2)
    assert groups.evaluate_all("groups => groups.map(g => g.dataset.path)") == ["lib/__init__.py", "main.py"]
    match = page.locator("[data-testid=search-result][data-path='lib/__init__.py'][data-line='4']")
    expect(match.locator("mark")).to_have_text("needle")
    match.click()

    page.wait_for_function(f"() => ({ACTIVE_PATH})() === 'lib/__init__.py'")
    assert page.evaluate(CURSOR) == [4, 17]
    assert page.evaluate(SELECTED_TEXT) == "needle"
    page.wait_for_function(EDITOR_HAS_FOCUS)

    # Match case, then a regular expression.
    page.keyboard.press("Control+Shift+F")
    page.get_by_test_id("search-case").click()
    expect(summary).to_have_text("3 results in 2 files")
    page.get_by_test_id("search-case").click()
    page.get_by_test_id("search-regex").click()
    query.fill(r"def \w+\(")
    expect(summary).to_have_text("1 result in 1 file")
    expect(page.locator("[data-testid=search-result] mark")).to_have_text("def find_needle(")
    query.fill("find_(")
    expect(page.get_by_test_id("search-error")).to_contain_text("unclosed group")
    expect(page.get_by_test_id("search-results").locator("li")).to_have_count(0)

    # The keyboard alone: Enter runs, Down goes into the results, Enter opens one.
    page.get_by_test_id("search-regex").click()
    query.fill("haystack")
    query.press("Enter")
    expect(summary).to_have_text("1 result in 1 file")
    query.press("ArrowDown")
    page.keyboard.press("Enter")
    page.wait_for_function(f"() => ({ACTIVE_PATH})() === 'notes.txt'")
    assert page.evaluate(SELECTED_TEXT) == "haystack"
    assert page.js_errors == []


def test_find_in_files_starts_from_the_selected_text_and_a_folder(page):
    open_workspace(page, {"a.py": "token = 1\n", "sub/b.py": "token = 2\n"})
    open_file(page, "a.py")
    page.evaluate("() => window.devbench.tabs.editor.setSelection(new window.devbench.monaco.Range(1, 1, 1, 6))")

    page.keyboard.press("Control+Shift+F")

    expect(page.get_by_test_id("search-input")).to_have_value("token")
    expect(page.get_by_test_id("search-summary")).to_have_text("2 results in 2 files")
    page.get_by_test_id("search-path").fill("sub")
    expect(page.get_by_test_id("search-summary")).to_have_text("1 result in 1 file")
    expect(page.get_by_test_id("search-file")).to_have_attribute("data-path", "sub/b.py")


# --- command palette ----------------------------------------------------------------------------


def test_ctrl_shift_p_runs_our_commands_and_the_editors(page):
    open_workspace(page, {"list.txt": "pear\napple\nfig\n"})
    open_file(page, "list.txt")

    page.keyboard.press("Control+Shift+P")
    palette = page.get_by_test_id("command-palette")
    expect(palette).to_be_visible()
    page.keyboard.type("sort lines asc")
    expect(palette.locator("[data-testid=quick-pick-item]").first).to_have_attribute(
        "data-key", "editor.action.sortLinesAscending"
    )
    page.keyboard.press("Enter")
    page.wait_for_function(f"() => ({EDITOR_VALUE})() === 'apple\\nfig\\npear\\n'")

    page.keyboard.press("Control+Shift+P")
    page.keyboard.type("show problems")
    expect(palette.locator("[data-testid=quick-pick-item]").first).to_have_attribute(
        "data-key", "workbench.showProblems"
    )
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("problems-panel")).to_be_visible()
    expect(page.get_by_test_id("panel-tab-problems")).to_have_attribute("aria-selected", "true")

    # Our commands show their keys; Escape gives the focus back.
    page.locator("#editor .view-lines").click()
    page.keyboard.press("Control+Shift+P")
    page.keyboard.type("go to file")
    expect(palette.locator("[data-testid=quick-pick-item][data-key='workbench.quickOpen'] kbd")).to_have_text("Ctrl+P")
    page.keyboard.press("Escape")
    expect(palette).to_have_count(0)
    page.wait_for_function(EDITOR_HAS_FOCUS)
    assert page.js_errors == []


# --- the terminal -------------------------------------------------------------------------------


def test_ctrl_backquote_toggles_the_terminal_and_the_documented_keys_leave_it(page):
    open_workspace(page, {"main.py": "print(1)\n"})
    expect(page.locator("[data-testid=terminal-tab][data-name=main]")).to_have_attribute("data-state", "ready")
    open_file(page, "main.py")
    page.locator("#editor .view-lines").click()
    ide = page.locator("#ide")

    # From the editor: the terminal shows and takes the keyboard.
    page.keyboard.press("Control+Backquote")
    page.wait_for_function(FOCUS_IN_TERMINAL)
    page.keyboard.type("echo typed-in-terminal")
    page.keyboard.press("Enter")
    page.wait_for_function(f"() => ({TERMINAL_TEXT})('main').includes('\\ntyped-in-terminal')")

    # From the terminal, Ctrl+` hides the panel and goes back to the editor.
    page.keyboard.press("Control+Backquote")
    expect(ide).to_have_class(re.compile(r"\bpanel-hidden\b"))
    expect(page.get_by_test_id("terminal-panel")).to_be_hidden()
    page.wait_for_function(EDITOR_HAS_FOCUS)
    page.keyboard.type("# back in the editor ")
    page.wait_for_function(f"() => ({EDITOR_VALUE})().includes('# back in the editor ')")

    # And again: the panel comes back with the same shell.
    page.keyboard.press("Control+Backquote")
    expect(ide).not_to_have_class(re.compile(r"\bpanel-hidden\b"))
    page.wait_for_function(FOCUS_IN_TERMINAL)
    assert "typed-in-terminal" in page.evaluate(TERMINAL_TEXT, "main")

    # F6 / Shift+F6 leave the terminal without hiding it.
    page.keyboard.press("Shift+F6")
    page.wait_for_function(EDITOR_HAS_FOCUS)
    page.keyboard.press("F6")
    page.wait_for_function(FOCUS_IN_TERMINAL)
    page.keyboard.press("F6")
    page.wait_for_function("() => Boolean(document.activeElement.closest('.ide-sidebar'))")
    expect(page.get_by_test_id("terminal-panel")).to_be_visible()

    # The pickers open from inside a terminal too; other keys stay the shell's.
    page.keyboard.press("Control+Backquote")
    page.wait_for_function(FOCUS_IN_TERMINAL)
    page.keyboard.press("Control+p")
    expect(page.get_by_test_id("quick-open")).to_be_visible()
    page.keyboard.press("Escape")
    page.wait_for_function(FOCUS_IN_TERMINAL)
    assert "typed-in-terminal" in page.evaluate(TERMINAL_TEXT, "main")
    assert page.js_errors == []


# --- language servers: formatting and problems ---------------------------------------------------


def wait_for_language_servers(page):
    for server in ("pyright", "ruff"):
        expect(page.get_by_test_id(f"lsp-badge-{server}")).to_have_attribute("data-state", "running", timeout=60_000)


def test_shift_alt_f_formats_a_python_file_with_ruffs_formatter(page):
    open_workspace(page, {"messy.py": "x=1\nitems = [1,2 ,3]\ndef f( a ):\n  return {'a':a}\n"})
    wait_for_language_servers(page)
    open_file(page, "messy.py")
    # The formatter is there once ruff has answered initialize for this file.
    page.wait_for_function(
        "() => window.devbench.tabs.editor.getAction('editor.action.formatDocument').isSupported()", timeout=60_000
    )
    page.locator("#editor .view-lines").click()

    page.keyboard.press("Shift+Alt+F")

    page.wait_for_function(
        f"() => ({EDITOR_VALUE})() === 'x = 1\\nitems = [1, 2, 3]\\n\\n\\ndef f(a):\\n    return {{\"a\": a}}\\n'",
        timeout=30_000,
    )
    expect(page.locator("[data-testid=editor-tab][data-path='messy.py']")).to_have_attribute("data-dirty", "true")
    assert page.js_errors == []


def test_the_problems_panel_lists_a_type_error_and_the_status_bar_counts_it(page):
    open_workspace(page, {"typed.py": 'import os\ncount: int = "three"\nprint(count)\n', "clean.py": "print(1)\n"})
    wait_for_language_servers(page)
    open_file(page, "typed.py")
    status = page.get_by_test_id("status-problems")
    expect(status).to_have_attribute("data-errors", "1", timeout=60_000)
    expect(status).to_contain_text("⊗ 1")

    status.click()

    expect(page.get_by_test_id("problems-panel")).to_be_visible()
    error = page.locator("[data-testid=problem][data-severity=error]")
    expect(error).to_have_count(1)
    expect(error).to_have_attribute("data-path", "typed.py")
    expect(error).to_have_attribute("data-line", "2")
    expect(error).to_contain_text("three")
    # ruff's unused import is a warning of the same file.
    warnings = page.locator("[data-testid=problem][data-severity=warning][data-path='typed.py']")
    expect(warnings.filter(has_text="`os` imported but unused")).to_have_count(1)
    expect(page.get_by_test_id("problems-count")).to_have_text(str(page.locator("[data-testid=problem]").count()))
    open_file(page, "clean.py")
    error.click()
    page.wait_for_function(f"() => ({ACTIVE_PATH})() === 'typed.py'")
    assert page.evaluate(CURSOR)[0] == 2

    # Fixing the error clears it from the panel and the count.
    page.evaluate(
        """() => {
        const model = window.devbench.tabs.editor.getModel();
        model.pushEditOperations([], [{range: {startLineNumber: 2, startColumn: 14, endLineNumber: 2, endColumn: 21},
                                       text: "3"}], () => null);
    }"""
    )
    expect(status).to_have_attribute("data-errors", "0", timeout=60_000)
    expect(page.locator("[data-testid=problem][data-severity=error]")).to_have_count(0)
    assert page.js_errors == []


# --- tabs after a reload --------------------------------------------------------------------------


def test_a_reload_restores_the_open_tabs_and_their_cursors_for_this_user_only(page):
    lines = "".join(f"line_{number} = {number}\n" for number in range(1, 120))
    workspace, _ = open_workspace(page, {"a.py": lines, "b.py": lines, "c.py": "print('c')\n"})
    open_file(page, "a.py")
    page.evaluate(
        """() => {
        const editor = window.devbench.tabs.editor;
        editor.setPosition({lineNumber: 100, column: 5});
        editor.revealLine(100);
    }"""
    )
    open_file(page, "c.py")
    open_file(page, "b.py")
    page.evaluate("() => window.devbench.tabs.editor.setPosition({lineNumber: 7, column: 3})")
    page.locator("[data-testid=editor-tab][data-path='c.py'] [data-testid=editor-tab-close]").click()

    page.reload()

    tabs = page.get_by_test_id("editor-tab")
    expect(tabs).to_have_count(2)
    assert tabs.evaluate_all("tabs => tabs.map(tab => tab.dataset.path)") == ["a.py", "b.py"]
    expect(page.locator("[data-testid=editor-tab][data-path='b.py']")).to_have_attribute("aria-selected", "true")
    page.wait_for_function(f"() => JSON.stringify(({CURSOR})()) === '[7,3]'")
    page.locator("[data-testid=editor-tab][data-path='a.py']").click()
    page.wait_for_function(f"() => JSON.stringify(({CURSOR})()) === '[100,5]'")
    expect(page.locator("#editor .view-lines")).to_contain_text("line_100 = 100")

    # Another member in the same browser gets their own (empty) set of tabs.
    editor = make_user("eddie")
    services.do_add_member(workspace, editor, Membership.Role.EDITOR, acting_user=User.objects.get(username="olivia"))
    page.context.clear_cookies()  # signed out; localStorage stays, as in a shared browser
    log_in(page, "eddie")
    page.goto(f"/workspaces/{workspace.pk}/")
    expect(page.locator("[data-testid=tree-item][data-path='a.py']")).to_be_visible()
    expect(page.get_by_test_id("editor-tab")).to_have_count(0)
    assert page.js_errors == []
