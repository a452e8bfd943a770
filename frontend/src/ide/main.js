// Entry point of the IDE page (/workspaces/<id>/): wires the file tree, the
// editor tabs, the bottom panel (terminals, output), the runner and the
// status bar together. The template passes the workspace and the user's
// rights as data attributes on #ide.
import "./environment.js"; // must run before Monaco is evaluated
import { api, errorMessage } from "../lib/api.js";
import { notify } from "../lib/dialogs.js";
import { dataFlag } from "../lib/dom.js";
import { EditorTabs } from "./editor_tabs.js";
import { WorkspaceEvents } from "./file_events.js";
import { filesApi } from "./files_api.js";
import { FileTree } from "./filetree.js";
import { LanguageServers, openDefinitionsInTabs } from "./language_servers.js";
import { sizeLimits } from "./large_files.js";
import { monaco } from "./monaco.js";
import { OutputLog } from "./output.js";
import { setupPanelResizer } from "./panel_resizer.js";
import { setupPanelTabs } from "./panels.js";
import { ProblemsPanel } from "./problems_panel.js";
import { Runner } from "./runner.js";
import { SearchPanel } from "./search_panel.js";
import { SessionRestore } from "./session_restore.js";
import { SidebarViews } from "./sidebar_views.js";
import { StatusBar } from "./status_bar.js";
import { TerminalPanel } from "./terminal_panel.js";
import { setupIdeCommands } from "./ide_commands.js";
import { showWorkspaceClosed } from "./workspace_closed.js";

const root = document.getElementById("ide");
const workspaceId = root.dataset.workspaceId;
const canEdit = dataFlag(root, "canEdit");
const byId = (id) => document.getElementById(id);

const files = filesApi(workspaceId);
const output = new OutputLog(byId("output-panel"));
const panels = setupPanelTabs(byId("panel-tabs"), { grid: root });
setupPanelResizer({ grid: root, panel: root.querySelector(".ide-panel") });
const status = new StatusBar({
  saveStatus: byId("save-status"),
  language: byId("status-language"),
  position: byId("status-position"),
  note: byId("editor-note"),
  problems: byId("status-problems"),
});

const tabs = new EditorTabs({
  monaco,
  files,
  canEdit,
  sizeLimits: sizeLimits(root),
  tabBar: byId("editor-tabs"),
  editorHost: byId("editor"),
  diffHost: byId("diff"),
  emptyState: byId("editor-empty"),
  conflictBar: byId("conflict-bar"),
  status,
  output,
});

const tree = new FileTree({
  element: byId("file-tree"),
  files,
  canEdit,
  output,
  onOpen: (path) => tabs.open(path),
  onMoved: (from, to) => tabs.pathMoved(from, to),
  onDeleted: (path) => tabs.pathDeleted(path),
});

const terminals = new TerminalPanel({ element: byId("terminal-panel"), workspaceId, canEdit });
// Switching to the Terminal panel with the mouse means "I want to type
// there"; arrow-key navigation between panel tabs keeps focus on the tabs.
byId("panel-tab-terminal").addEventListener("click", () => terminals.focus());

const runner = canEdit
  ? new Runner({
      workspaceId,
      tabs,
      output,
      panels,
      runButton: root.querySelector('[data-testid="run-button"]'),
      stopButton: root.querySelector('[data-testid="stop-button"]'),
      statusElement: byId("run-status"),
    })
  : null;

const languageServers = new LanguageServers({ element: byId("lsp-status"), workspaceId, canEdit, output, tabs });
openDefinitionsInTabs(tabs);

// Keyboard and panels: quick open, search, command palette, problems, the
// terminal toggle (docs/keyboard.md).
const sidebar = new SidebarViews(root.querySelector(".ide-sidebar"), {
  focusExplorer: () => (byId("file-tree").querySelector('[tabindex="0"]') || byId("file-tree")).focus(),
});
const search = new SearchPanel({ files, tabs });
sidebar.add({ id: "search", label: "Search", elements: [search.element], onShow: ({ focus }) => focus && search.focus() });
const problems = new ProblemsPanel({ element: byId("problems-panel"), tabCount: byId("problems-count"), status, tabs });
const commands = setupIdeCommands({ tabs, files, panels, terminals, sidebar, search, problems, tree, canEdit });
byId("status-problems").addEventListener("click", () => commands.run("workbench.showProblems"));

// What happens to the workspace without this page doing it (file_events.js):
// files changed on disk by a terminal, a run or another member; a role
// change; the workspace's deletion or the end of this user's access, which
// closes every panel and leaves one message.
let workspaceClosed = false;
function closeWorkspace(closed) {
  if (workspaceClosed) return;
  workspaceClosed = true;
  events.dispose();
  terminals.disposeAll();
  languageServers.dispose();
  if (runner) runner.dispose();
  tabs.discardAll();
  tree.clear();
  showWorkspaceClosed(root, closed);
}
const followDisk = () => Promise.all([tree.resync(), tabs.resync()]);
const events = new WorkspaceEvents({
  workspaceId,
  stateElement: root,
  onReady: followDisk, // changes made while this page was not listening were not reported
  onChanges: (changes) => Promise.all([tree.applyDiskChanges(changes), tabs.applyDiskChanges(changes)]),
  onResync: followDisk,
  onAccessChanged: ({ message }) => notify(`${message} Reload the page to see what you can do now.`, { kind: "info", timeout: 10000 }),
  onClosed: closeWorkspace,
  onNotice: ({ level, message }) => output.log(message, level === "error" ? "error" : "info"),
});
// A terminal may hear of the deletion first.
document.addEventListener("devbench:workspace-closed", (event) =>
  closeWorkspace({ reason: "deleted", message: event.detail?.message || "This workspace was deleted." }),
);

function bindToolbar(testid, handler) {
  const button = root.querySelector(`[data-testid="${testid}"]`);
  if (button) button.addEventListener("click", handler);
}
bindToolbar("new-file", () => tree.createEntry("file"));
bindToolbar("new-folder", () => tree.createEntry("directory"));
bindToolbar("upload-files", () => tree.chooseUpload());
bindToolbar("refresh-tree", () => tree.refresh());
bindToolbar("collapse-tree", () => tree.collapseAll());

// Ctrl+S / Cmd+S anywhere on the page saves the active tab. Capturing at
// the window means it also works when focus is in the tree, and the
// browser's "Save page" dialog never opens. In a terminal the keys belong
// to the shell (xterm sends ^S and suppresses the browser's default).
window.addEventListener(
  "keydown",
  (event) => {
    if (event.target instanceof Element && event.target.closest(".xterm")) {
      // Cmd+S produces no terminal input; only keep the browser's dialog shut.
      if (event.metaKey && event.key.toLowerCase() === "s") event.preventDefault();
      return;
    }
    if ((event.ctrlKey || event.metaKey) && !event.altKey && event.key.toLowerCase() === "s") {
      event.preventDefault();
      event.stopPropagation();
      if (!canEdit) {
        notify("You have view-only access: changes cannot be saved.", { kind: "info" });
        return;
      }
      tabs.saveActive();
    }
  },
  true,
);

window.addEventListener("beforeunload", (event) => {
  if (tabs.hasDirtyTabs()) {
    event.preventDefault();
    event.returnValue = ""; // older browsers need returnValue set
  }
});

async function checkWorkspaceStatus() {
  try {
    const workspace = await api.get(`/api/v1/workspaces/${encodeURIComponent(workspaceId)}/`);
    if (workspace.status !== "ready") {
      const message = `This workspace is ${workspace.status}${workspace.status_message ? `: ${workspace.status_message}` : ""}. Some files may be missing until provisioning finishes.`;
      notify(message, { kind: workspace.status === "error" ? "error" : "info", timeout: 8000 });
      output.log(message, workspace.status === "error" ? "error" : "info");
    }
  } catch (error) {
    output.error(`Could not read the workspace status: ${errorMessage(error)}`);
  }
}

output.log(`Opened workspace ${root.dataset.workspaceName || workspaceId} as ${root.dataset.role || "member"}${canEdit ? "" : " (read-only)"}`);
if (!canEdit) status.setSaveState("readonly");
tree.refresh();
checkWorkspaceStatus();
new SessionRestore({ tabs, workspaceId, userId: root.dataset.userId }).start();

// Exposed for the terminal and language-client work that mounts into this
// page later, and for debugging from the console.
window.devbench = { monaco, tabs, tree, output, panels, languageServers, events, workspaceId, canEdit, commands, search, problems };
