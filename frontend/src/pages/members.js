// The members page (/workspaces/<id>/members/): who can use a workspace and
// with which role. Only owners (can_manage) get the add form, role selects
// and remove buttons; the server enforces the same rules and its refusals
// (e.g. removing the last owner) are shown above the list.
import { ApiError, api, errorMessage, listAll } from "../lib/api.js";
import { confirmDialog, notify } from "../lib/dialogs.js";
import { dataFlag, h, replaceChildren, timeElement } from "../lib/dom.js";

const ROLES = [
  ["owner", "Owner"],
  ["editor", "Editor"],
  ["viewer", "Viewer"],
];

const page = document.getElementById("members-page");
const workspaceId = page.dataset.workspaceId;
const canManage = dataFlag(page, "canManage");
const membersUrl = `/api/v1/workspaces/${encodeURIComponent(workspaceId)}/members/`;
const list = document.getElementById("members-list");
const pageError = document.getElementById("members-error");
const addForm = document.getElementById("add-member-form");
let me = null;

function showError(message) {
  pageError.textContent = message;
  pageError.hidden = !message;
  if (message) pageError.scrollIntoView({ block: "nearest" });
}

function roleControl(member) {
  if (!canManage) return h("span", { class: `role role-${member.role}`, dataset: { testid: "member-role" } }, member.role);
  const select = h(
    "select",
    { "aria-label": `Role of ${member.user.username}`, dataset: { testid: "member-role" } },
    ROLES.map(([value, label]) => h("option", { value, selected: value === member.role }, label)),
  );
  select.addEventListener("change", () => changeRole(member, select));
  return select;
}

function buildRow(member) {
  const isMe = me && member.user.id === me.id;
  return h(
    "tr",
    { dataset: { testid: "member-row", memberId: member.id, username: member.user.username, role: member.role } },
    h("td", {}, h("strong", {}, member.user.username), isMe ? h("span", { class: "muted" }, " (you)") : null),
    h("td", { class: "muted" }, member.user.email || "—"),
    h("td", {}, roleControl(member)),
    h("td", { class: "muted time-cell" }, timeElement(member.created_at)),
    h(
      "td",
      { class: "actions-cell" },
      canManage
        ? h("button", { type: "button", class: "btn btn-small btn-danger-outline", dataset: { testid: "remove-member" }, onclick: () => removeMember(member) }, "Remove")
        : null,
    ),
  );
}

async function refresh() {
  try {
    const members = await listAll(membersUrl);
    replaceChildren(
      list,
      members.length
        ? h(
            "table",
            { class: "table", dataset: { testid: "members-table" } },
            h("thead", {}, h("tr", {}, ["User", "Email", "Role", "Added", h("span", { class: "visually-hidden" }, "Actions")].map((label) => h("th", { scope: "col" }, label)))),
            h("tbody", {}, members.map(buildRow)),
          )
        : h("p", { class: "empty-state" }, "This workspace has no members."),
    );
  } catch (error) {
    showError(`Could not load members: ${errorMessage(error)}`);
  }
}

// When an owner demotes or removes themselves, the page they are on no
// longer matches their rights; the server-rendered page is the way to catch up.
function afterOwnChange(member, removed) {
  if (!me || member.user.id !== me.id) return false;
  window.location.assign(removed ? "/" : window.location.pathname);
  return true;
}

async function changeRole(member, select) {
  const role = select.value;
  showError("");
  select.disabled = true;
  try {
    await api.patch(`${membersUrl}${encodeURIComponent(member.id)}/`, { role });
    notify(`${member.user.username} is now ${role}.`, { kind: "success" });
    if (role !== "owner" && afterOwnChange(member, false)) return;
    member.role = role;
    select.closest("tr").dataset.role = role;
  } catch (error) {
    select.value = member.role; // the change did not happen; do not pretend it did
    showError(`Could not change the role of ${member.user.username}: ${errorMessage(error)}`);
  } finally {
    select.disabled = false;
  }
}

async function removeMember(member) {
  showError("");
  const removed = await confirmDialog({
    title: `Remove ${member.user.username}?`,
    message: `${member.user.username} will lose access to this workspace.`,
    submitLabel: "Remove",
    danger: true,
    submit: () => api.delete(`${membersUrl}${encodeURIComponent(member.id)}/`).then(() => true),
  });
  if (!removed) return;
  notify(`${member.user.username} removed.`, { kind: "success" });
  if (afterOwnChange(member, true)) return;
  await refresh();
}

function setupAddForm() {
  if (!addForm) return;
  const username = addForm.elements.username;
  const role = addForm.elements.role;
  const button = addForm.querySelector("button[type=submit]");
  const fieldErrors = {
    username: document.getElementById("member-username-error"),
    role: document.getElementById("member-role-error"),
  };
  const clearFieldErrors = () => {
    for (const slot of Object.values(fieldErrors)) {
      slot.textContent = "";
      slot.hidden = true;
    }
  };
  addForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    showError("");
    clearFieldErrors();
    if (!username.value.trim()) {
      fieldErrors.username.textContent = "Enter a username.";
      fieldErrors.username.hidden = false;
      return;
    }
    button.disabled = true;
    try {
      const member = await api.post(membersUrl, { username: username.value.trim(), role: role.value });
      notify(`${member.user.username} added as ${member.role}.`, { kind: "success" });
      username.value = "";
      await refresh();
    } catch (error) {
      let placed = false;
      if (error instanceof ApiError) {
        for (const [field, slot] of Object.entries(fieldErrors)) {
          const messages = error.fieldErrors(field);
          if (messages.length) {
            slot.textContent = messages.join(" ");
            slot.hidden = false;
            placed = true;
          }
        }
      }
      if (!placed) showError(`Could not add member: ${errorMessage(error)}`);
    } finally {
      button.disabled = false;
    }
  });
}

async function main() {
  setupAddForm();
  try {
    me = await api.get("/api/v1/me/");
  } catch {
    // Only used to mark "(you)"; the list is still useful without it.
  }
  await refresh();
}

main();
