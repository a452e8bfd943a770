// The workspace list (/): lists the user's workspaces, creates, renames and
// deletes them, and retries the provisioning of one in error. Provisioning
// runs in a background job, so while any workspace is pending or provisioning
// the list is polled every second to move its progress bar; polling stops
// once nothing is in flight.
import { api, errorMessage, listAll } from "../lib/api.js";
import { formDialog, notify, notifyError, promptName } from "../lib/dialogs.js";
import { h, replaceChildren, timeElement } from "../lib/dom.js";

const LIST_URL = "/api/v1/workspaces/";
const POLL_INTERVAL_MS = 1000;
// After a failed poll, wait longer so a down server is not hammered.
const POLL_RETRY_MS = 5000;
const IN_FLIGHT = new Set(["pending", "provisioning"]);
const STATUS_LABELS = { pending: "Pending", provisioning: "Provisioning", ready: "Ready", error: "Error" };

const container = document.getElementById("workspace-list");
const pageError = document.getElementById("workspaces-error");
const rows = new Map(); // workspace id -> { row, signature }
let workspaces = [];
let pollTimer = null;
let refreshSequence = 0;

const workspaceUrl = (workspace) => `${LIST_URL}${encodeURIComponent(workspace.id)}/`;

function showPageError(message) {
  pageError.textContent = message;
  pageError.hidden = !message;
}

function statusCell(workspace) {
  const cell = h(
    "td",
    { class: "status-cell" },
    h(
      "span",
      { class: `badge badge-${workspace.status}`, dataset: { testid: "workspace-status" } },
      STATUS_LABELS[workspace.status] || workspace.status,
    ),
  );
  if (IN_FLIGHT.has(workspace.status)) {
    const progress = Math.max(0, Math.min(100, Number(workspace.progress) || 0));
    cell.append(
      h(
        "div",
        { class: "progress-line" },
        h("progress", { max: 100, value: progress, "aria-label": `Provisioning ${workspace.name}`, dataset: { testid: "workspace-progress" } }),
        h("span", { class: "progress-value" }, `${progress}%`),
      ),
    );
    if (workspace.status_message) cell.append(h("p", { class: "status-message muted" }, workspace.status_message));
  } else if (workspace.status === "error") {
    cell.append(
      h("p", { class: "status-error", dataset: { testid: "workspace-error" } }, workspace.status_message || "Provisioning failed."),
    );
  }
  return cell;
}

function actionsCell(workspace) {
  const isOwner = workspace.my_role === "owner";
  const actions = [];
  if (workspace.status === "ready") {
    actions.push(
      h("a", { class: "btn btn-primary btn-small", href: `/workspaces/${encodeURIComponent(workspace.id)}/`, dataset: { testid: "open-workspace" } }, "Open"),
    );
  }
  actions.push(
    h("a", { class: "btn btn-small", href: `/workspaces/${encodeURIComponent(workspace.id)}/members/`, dataset: { testid: "workspace-members" } }, "Members"),
  );
  // Re-provisioning is an owner's action (the API answers 403 to others).
  if (workspace.status === "error" && isOwner) {
    actions.push(
      h("button", { type: "button", class: "btn btn-primary btn-small", dataset: { testid: "retry-provisioning" }, onclick: (event) => retry(workspace, event.currentTarget) }, "Retry"),
    );
  }
  if (isOwner) {
    actions.push(
      h("button", { type: "button", class: "btn btn-small", dataset: { testid: "rename-workspace" }, onclick: () => rename(workspace) }, "Rename"),
      h("button", { type: "button", class: "btn btn-small btn-danger-outline", dataset: { testid: "delete-workspace" }, onclick: () => remove(workspace) }, "Delete"),
    );
  }
  return h("td", { class: "actions-cell" }, h("div", { class: "actions" }, actions));
}

function buildRow(workspace) {
  const name =
    workspace.status === "ready"
      ? h("a", { href: `/workspaces/${encodeURIComponent(workspace.id)}/`, class: "workspace-name" }, workspace.name)
      : h("span", { class: "workspace-name" }, workspace.name);
  return h(
    "tr",
    { dataset: { testid: "workspace-row", workspaceId: workspace.id, status: workspace.status, name: workspace.name } },
    h("td", { class: "name-cell" }, name),
    h("td", {}, h("span", { class: `role role-${workspace.my_role || "none"}` }, workspace.my_role || "—")),
    statusCell(workspace),
    h("td", { class: "muted time-cell" }, timeElement(workspace.updated_at)),
    actionsCell(workspace),
  );
}

// Rows are rebuilt only when their data changed: replacing a row under the
// pointer every second would swallow clicks on its buttons.
function render() {
  if (!workspaces.length) {
    rows.clear();
    replaceChildren(
      container,
      h("div", { class: "empty-state", dataset: { testid: "workspaces-empty" } },
        h("p", {}, "No workspaces yet."),
        h("p", { class: "muted" }, "Create one to get a file tree, an editor and (soon) a terminal."),
      ),
    );
    return;
  }
  let tbody = container.querySelector("tbody");
  if (!tbody) {
    tbody = h("tbody");
    replaceChildren(
      container,
      h(
        "table",
        { class: "table", dataset: { testid: "workspace-table" } },
        h("thead", {}, h("tr", {}, ["Name", "Role", "Status", "Updated", h("span", { class: "visually-hidden" }, "Actions")].map((label) => h("th", { scope: "col" }, label)))),
        tbody,
      ),
    );
  }
  const seen = new Set();
  const ordered = workspaces.map((workspace) => {
    const key = String(workspace.id);
    seen.add(key);
    const signature = JSON.stringify(workspace);
    const existing = rows.get(key);
    if (existing && existing.signature === signature) return existing.row;
    const row = buildRow(workspace);
    rows.set(key, { row, signature });
    return row;
  });
  for (const key of [...rows.keys()]) if (!seen.has(key)) rows.delete(key);
  // Only touch the DOM when order or membership changed, for the same reason.
  const current = [...tbody.children];
  if (current.length !== ordered.length || current.some((row, index) => row !== ordered[index])) {
    tbody.replaceChildren(...ordered);
  }
}

async function refresh() {
  clearTimeout(pollTimer);
  pollTimer = null;
  const sequence = ++refreshSequence;
  let failed = false;
  try {
    const results = await listAll(LIST_URL);
    if (sequence !== refreshSequence) return; // a newer refresh owns the page
    workspaces = results;
    showPageError("");
    render();
  } catch (error) {
    if (sequence !== refreshSequence) return;
    failed = true;
    showPageError(`Could not load workspaces: ${errorMessage(error)}`);
    if (!rows.size) replaceChildren(container);
  }
  // Keep polling while something is provisioning, or to recover after an
  // error on first load; otherwise stay quiet until the user acts.
  if (workspaces.some((workspace) => IN_FLIGHT.has(workspace.status)) || (failed && !workspaces.length)) {
    pollTimer = setTimeout(refresh, failed ? POLL_RETRY_MS : POLL_INTERVAL_MS);
  }
}

async function createWorkspace() {
  const created = await formDialog({
    title: "New workspace",
    fields: [{ name: "name", label: "Name", testid: "workspace-name-input", placeholder: "my-project", required: true }],
    submitLabel: "Create",
    submitTestid: "create-workspace",
    canSubmit: ({ name }) => name.trim().length > 0,
    submit: ({ name }) => api.post(LIST_URL, { name: name.trim() }),
  });
  if (!created) return;
  notify(`Workspace “${created.name}” created; provisioning has started.`, { kind: "success" });
  await refresh();
}

async function rename(workspace) {
  const updated = await promptName({
    title: `Rename “${workspace.name}”`,
    value: workspace.name,
    submitLabel: "Rename",
    submit: (name) => api.patch(workspaceUrl(workspace), { name }),
  });
  if (updated) await refresh();
}

async function remove(workspace) {
  const deleted = await formDialog({
    title: `Delete “${workspace.name}”?`,
    description: h(
      "div",
      {},
      h("p", {}, "This permanently deletes the workspace, its files and its members' access. It cannot be undone."),
      h("p", {}, "Type ", h("strong", { class: "mono" }, workspace.name), " to confirm."),
    ),
    fields: [{ name: "confirm", label: "Workspace name", testid: "delete-confirm-input" }],
    submitLabel: "Delete workspace",
    submitTestid: "delete-confirm-ok",
    danger: true,
    canSubmit: ({ confirm }) => confirm === workspace.name,
    submit: ({ confirm }) => api.delete(workspaceUrl(workspace), { query: { confirm } }).then(() => true),
  });
  if (!deleted) return;
  notify(`Workspace “${workspace.name}” deleted.`, { kind: "success" });
  await refresh();
}

// One click: provisioning is safe to run again, and the row shows its progress.
async function retry(workspace, button) {
  button.disabled = true;
  try {
    await api.post(`${workspaceUrl(workspace)}reprovision/`, {});
  } catch (error) {
    button.disabled = false;
    notifyError(error);
    return;
  }
  notify(`Provisioning “${workspace.name}” again.`, { kind: "info" });
  await refresh();
}

document.querySelector("[data-testid=new-workspace]").addEventListener("click", () => {
  createWorkspace().catch((error) => notifyError(error));
});
refresh();
