// What the IDE shows once its workspace is gone for this page: deleted
// (elsewhere, by anyone) or no longer accessible to this user. Every panel
// has been closed by then (main.js); one message says why and leads back to
// the list of workspaces.
import { h } from "../lib/dom.js";

const TITLES = {
  deleted: "This workspace was deleted",
  revoked: "You no longer have access to this workspace",
};

/** Replaces the IDE's panels with the message; `reason` is "deleted" or "revoked". */
export function showWorkspaceClosed(root, { reason, message }) {
  const back = h("a", { class: "btn btn-primary", href: "/", dataset: { testid: "workspace-closed-back" } }, "Back to your workspaces");
  const panel = h(
    "div",
    { class: "workspace-closed", role: "alert", dataset: { testid: "workspace-closed", reason } },
    h(
      "div",
      { class: "workspace-closed-box" },
      h("h2", {}, TITLES[reason] || TITLES.deleted),
      h("p", { dataset: { testid: "workspace-closed-message" } }, message),
      h("p", {}, "Its editors, terminals and language servers were closed on this page."),
      back,
    ),
  );
  root.replaceChildren(panel);
  back.focus();
}
