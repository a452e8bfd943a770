// The API tokens page (/tokens/): create, list and revoke personal API
// tokens. The server stores only a hash, so the plaintext in the create
// response is the only time it exists outside the user's hands: it is shown
// once, with a copy button, and never kept in page state afterwards.
import { ApiError, api, errorMessage, listAll } from "../lib/api.js";
import { confirmDialog, notify } from "../lib/dialogs.js";
import { h, replaceChildren, timeElement } from "../lib/dom.js";

const TOKENS_URL = "/api/v1/tokens/";

const form = document.getElementById("create-token-form");
const list = document.getElementById("tokens-list");
const pageError = document.getElementById("tokens-error");
const newTokenBox = document.getElementById("new-token");
const newTokenValue = document.getElementById("new-token-value");
const copyButton = document.getElementById("copy-token");
const fieldErrors = {
  name: document.getElementById("token-name-error"),
  expires_in_days: document.getElementById("token-expiry-error"),
};

function showError(message) {
  pageError.textContent = message;
  pageError.hidden = !message;
}

function tokenState(token) {
  if (token.revoked_at) return ["revoked", "Revoked"];
  if (token.expires_at && new Date(token.expires_at) <= new Date()) return ["expired", "Expired"];
  return ["active", "Active"];
}

function buildRow(token) {
  const [state, label] = tokenState(token);
  return h(
    "tr",
    { dataset: { testid: "token-row", tokenId: token.id, name: token.name, state } },
    h("td", {}, h("strong", {}, token.name)),
    h("td", {}, h("code", { title: "The first characters of the token, to tell tokens apart" }, `${token.prefix}…`)),
    h("td", {}, h("span", { class: `badge badge-${state}` }, label)),
    h("td", { class: "muted time-cell" }, timeElement(token.created_at)),
    h("td", { class: "muted time-cell" }, token.revoked_at ? timeElement(token.revoked_at) : timeElement(token.expires_at, "never")),
    h("td", { class: "muted time-cell" }, timeElement(token.last_used_at, "never")),
    h(
      "td",
      { class: "actions-cell" },
      state === "active"
        ? h("button", { type: "button", class: "btn btn-small btn-danger-outline", dataset: { testid: "revoke-token" }, onclick: () => revoke(token) }, "Revoke")
        : null,
    ),
  );
}

async function refresh() {
  try {
    const tokens = await listAll(TOKENS_URL);
    replaceChildren(
      list,
      tokens.length
        ? h(
            "table",
            { class: "table", dataset: { testid: "tokens-table" } },
            h(
              "thead",
              {},
              h("tr", {}, ["Name", "Token", "Status", "Created", "Expires / revoked", "Last used", h("span", { class: "visually-hidden" }, "Actions")].map((label) => h("th", { scope: "col" }, label))),
            ),
            h("tbody", {}, tokens.map(buildRow)),
          )
        : h("p", { class: "empty-state", dataset: { testid: "tokens-empty" } }, "You have no API tokens."),
    );
  } catch (error) {
    showError(`Could not load tokens: ${errorMessage(error)}`);
  }
}

async function revoke(token) {
  showError("");
  const revoked = await confirmDialog({
    title: `Revoke “${token.name}”?`,
    message: "Programs using this token will get “401 Unauthorized” from now on. This cannot be undone.",
    submitLabel: "Revoke",
    danger: true,
    submit: () => api.delete(`${TOKENS_URL}${encodeURIComponent(token.id)}/`).then(() => true),
  });
  if (!revoked) return;
  notify(`Token “${token.name}” revoked.`, { kind: "success" });
  await refresh();
}

function showNewToken(plaintext) {
  newTokenValue.value = plaintext;
  newTokenBox.hidden = false;
  newTokenValue.focus();
  newTokenValue.select();
}

function hideNewToken() {
  newTokenValue.value = "";
  newTokenBox.hidden = true;
}

async function copyNewToken() {
  try {
    await navigator.clipboard.writeText(newTokenValue.value);
  } catch {
    // The async clipboard API needs a secure context (https or localhost);
    // a self-hosted instance on plain http falls back to the old way.
    newTokenValue.select();
    if (!document.execCommand("copy")) {
      notify("Could not copy automatically: select the token and copy it by hand.", { kind: "error" });
      return;
    }
  }
  copyButton.textContent = "Copied";
  setTimeout(() => {
    copyButton.textContent = "Copy";
  }, 2000);
}

function clearFieldErrors() {
  for (const slot of Object.values(fieldErrors)) {
    slot.textContent = "";
    slot.hidden = true;
  }
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  showError("");
  clearFieldErrors();
  hideNewToken();
  const name = form.elements.name.value.trim();
  const days = form.elements.expires_in_days.value.trim();
  if (!name) {
    fieldErrors.name.textContent = "Give the token a name, e.g. the machine or script that will use it.";
    fieldErrors.name.hidden = false;
    return;
  }
  const payload = { name };
  if (days) payload.expires_in_days = Number(days);
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    const created = await api.post(TOKENS_URL, payload);
    form.reset();
    showNewToken(created.token);
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
    if (!placed) showError(`Could not create the token: ${errorMessage(error)}`);
  } finally {
    button.disabled = false;
  }
});

copyButton.addEventListener("click", copyNewToken);
document.getElementById("dismiss-token").addEventListener("click", hideNewToken);
refresh();
