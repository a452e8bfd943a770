// Modal dialogs built on <dialog>, and toast notifications. Dialogs are used
// instead of window.prompt/confirm because they can show an API error next
// to the field that caused it and stay open so the user can correct it, and
// because browser tests can drive them like any other page element.
import { ApiError, errorMessage } from "./api.js";
import { h } from "./dom.js";

let dialogCounter = 0;

function field(spec, id) {
  const common = {
    id,
    name: spec.name,
    required: spec.required,
    autocomplete: spec.autocomplete || "off",
    dataset: { testid: spec.testid },
    "aria-describedby": `${id}-error`,
  };
  let control;
  if (spec.type === "select") {
    control = h(
      "select",
      common,
      spec.options.map(([value, label]) => h("option", { value, selected: value === spec.value }, label)),
    );
  } else {
    control = h("input", {
      ...common,
      type: spec.type || "text",
      value: spec.value ?? "",
      placeholder: spec.placeholder,
      min: spec.min,
      max: spec.max,
      spellcheck: "false",
    });
  }
  const error = h("p", { class: "field-error", id: `${id}-error`, hidden: true, dataset: { testid: `${spec.testid || spec.name}-error` } });
  const wrapper = h(
    "div",
    { class: "field" },
    h("label", { for: id }, spec.label),
    control,
    spec.help ? h("p", { class: "field-help" }, spec.help) : null,
    error,
  );
  return { wrapper, control, error };
}

/**
 * Opens a modal form. Resolves with what `submit(values)` returns, or with
 * the values themselves when there is no `submit`; resolves null on cancel.
 * If `submit` throws an ApiError the dialog stays open and shows the message,
 * with `details[field]` messages under the matching fields.
 */
export function formDialog({
  title,
  description,
  fields = [],
  submitLabel = "OK",
  submitTestid = "dialog-ok",
  danger = false,
  canSubmit = () => true,
  submit,
}) {
  dialogCounter += 1;
  const prefix = `dialog-${dialogCounter}`;
  const controls = fields.map((spec, index) => ({ spec, ...field(spec, `${prefix}-field-${index}`) }));
  const formError = h("p", { class: "alert alert-error", role: "alert", hidden: true, dataset: { testid: "dialog-error" } });
  const okButton = h("button", { type: "submit", class: danger ? "btn btn-danger" : "btn btn-primary", dataset: { testid: submitTestid } }, submitLabel);
  const cancelButton = h("button", { type: "button", class: "btn", dataset: { testid: "dialog-cancel" } }, "Cancel");
  const form = h(
    "form",
    { method: "dialog", novalidate: true },
    h("h2", { id: `${prefix}-title` }, title),
    description ? h("div", { class: "dialog-description" }, description) : null,
    controls.map((control) => control.wrapper),
    formError,
    h("div", { class: "dialog-actions" }, cancelButton, okButton),
  );
  const dialog = h("dialog", { class: "dialog", "aria-labelledby": `${prefix}-title` }, form);

  const values = () => Object.fromEntries(controls.map(({ spec, control }) => [spec.name, control.value]));
  const refreshOk = () => {
    okButton.disabled = !canSubmit(values());
  };
  const clearErrors = () => {
    formError.hidden = true;
    for (const { error, control } of controls) {
      error.hidden = true;
      control.removeAttribute("aria-invalid");
    }
  };

  return new Promise((resolve) => {
    let settled = false;
    const finish = (result) => {
      if (settled) return;
      settled = true;
      dialog.close();
      dialog.remove();
      resolve(result);
    };

    form.addEventListener("input", refreshOk);
    cancelButton.addEventListener("click", () => finish(null));
    // Escape fires "cancel"; a close from anywhere else also counts as cancel.
    dialog.addEventListener("cancel", (event) => {
      event.preventDefault();
      if (!okButton.dataset.busy) finish(null);
    });
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (okButton.disabled) return;
      clearErrors();
      if (!submit) return finish(values());
      okButton.disabled = true;
      okButton.dataset.busy = "true";
      try {
        finish(await submit(values()));
      } catch (error) {
        let shownUnderField = false;
        const otherMessages = [];
        if (error instanceof ApiError) {
          const fieldNames = new Set(controls.map(({ spec }) => spec.name));
          for (const { spec, error: slot, control } of controls) {
            const messages = error.fieldErrors(spec.name);
            if (messages.length) {
              slot.textContent = messages.join(" ");
              slot.hidden = false;
              control.setAttribute("aria-invalid", "true");
              shownUnderField = true;
            }
          }
          for (const key of Object.keys(error.details)) {
            if (!fieldNames.has(key) && Array.isArray(error.details[key])) otherMessages.push(...error.fieldErrors(key));
          }
        }
        // Once the field says what is wrong, a generic envelope message
        // ("Invalid input.") only adds noise; messages for no visible field
        // (non_field_errors, ...) still need a place to appear.
        if (!shownUnderField || otherMessages.length) {
          formError.textContent = shownUnderField ? otherMessages.join(" ") : errorMessage(error);
          formError.hidden = false;
        }
      } finally {
        delete okButton.dataset.busy;
        if (!settled) refreshOk();
      }
    });

    document.body.append(dialog);
    refreshOk();
    dialog.showModal();
    const first = controls[0]?.control;
    if (first) {
      first.focus();
      // Preselect the stem of a file name ("main" in "main.py") so typing
      // a new name keeps the extension, as editors do.
      if (first.select && typeof first.value === "string") {
        const dot = first.value.lastIndexOf(".");
        if (dot > 0 && first.type === "text") first.setSelectionRange(0, dot);
        else first.select();
      }
    } else {
      okButton.focus();
    }
  });
}

/** Asks for a single name; used for new file/folder, rename, etc. */
export function promptName({ title, label = "Name", value = "", submitLabel = "OK", help, submit }) {
  return formDialog({
    title,
    fields: [{ name: "name", label, value, help, testid: "name-dialog-input", required: true }],
    submitLabel,
    submitTestid: "name-dialog-ok",
    canSubmit: ({ name }) => name.trim().length > 0,
    submit: submit ? ({ name }) => submit(name.trim()) : undefined,
  }).then((result) => (submit ? result : result && result.name.trim()));
}

/** Yes/no question. Resolves true, or whatever `submit` returns, on OK. */
export function confirmDialog({ title, message, submitLabel = "OK", danger = false, submit }) {
  return formDialog({
    title,
    description: message,
    submitLabel,
    submitTestid: "confirm-dialog-ok",
    danger,
    submit: submit || (() => true),
  });
}

/**
 * A question with several answers, e.g. Save / Don't save / Cancel.
 * `choices` is [{ value, label, testid, kind: "primary"|"danger"|undefined }];
 * resolves with the chosen value, or null if dismissed.
 */
export function choiceDialog({ title, message, choices }) {
  return new Promise((resolve) => {
    const finish = (value) => {
      dialog.close();
      dialog.remove();
      resolve(value);
    };
    const buttons = choices.map((choice) =>
      h(
        "button",
        {
          type: "button",
          class: `btn${choice.kind ? ` btn-${choice.kind}` : ""}`,
          dataset: { testid: choice.testid },
          onclick: () => finish(choice.value),
        },
        choice.label,
      ),
    );
    const dialog = h(
      "dialog",
      { class: "dialog", "aria-label": title },
      h("h2", {}, title),
      h("div", { class: "dialog-description" }, message),
      h("div", { class: "dialog-actions" }, buttons),
    );
    dialog.addEventListener("cancel", (event) => {
      event.preventDefault();
      finish(null);
    });
    document.body.append(dialog);
    dialog.showModal();
    (buttons.find((button) => button.classList.contains("btn-primary")) || buttons[0]).focus();
  });
}

function toastRegion() {
  let region = document.getElementById("toasts");
  if (!region) {
    region = h("div", { id: "toasts", class: "toasts" });
    document.body.append(region);
  }
  return region;
}

/**
 * Shows a transient message. Errors stay until dismissed: a failure the
 * user did not get to read is a failure that was silent.
 */
export function notify(message, { kind = "info", timeout = 4000 } = {}) {
  const close = () => toast.remove();
  const toast = h(
    "div",
    {
      class: `toast toast-${kind}`,
      role: kind === "error" ? "alert" : "status",
      dataset: { testid: "toast", kind },
    },
    h("span", { class: "toast-message" }, message),
    h("button", { type: "button", class: "toast-close", "aria-label": "Dismiss", onclick: close }, "×"),
  );
  toastRegion().append(toast);
  if (kind !== "error" && timeout) setTimeout(close, timeout);
  return toast;
}

/** notify() for a caught error. */
export function notifyError(error, prefix) {
  const text = errorMessage(error);
  return notify(prefix ? `${prefix}: ${text}` : text, { kind: "error" });
}
