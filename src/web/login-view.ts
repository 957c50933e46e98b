/** The login form: one field, the daemon's API token (`<state-dir>/token`). */
import { h } from "./dom.js";

export function loginView(onToken: (token: string) => void, message?: string): HTMLElement {
  const input = h("input", {
    id: "token",
    name: "token",
    type: "password",
    autocomplete: "current-password",
    required: true,
    spellcheck: "false",
    "aria-describedby": message ? "token-hint login-error" : "token-hint",
  });
  const form = h(
    "form",
    { class: "stack", id: "login", "aria-labelledby": "login-title" },
    h("h1", { id: "login-title" }, "Log in to tvisor"),
    message ? h("p", { class: "error", id: "login-error", role: "alert" }, message) : null,
    // Password managers (and Chrome's form checks) expect a user name beside a password field.
    h("input", { type: "text", name: "username", autocomplete: "username", value: "tvisor", hidden: true }),
    h(
      "div",
      { class: "field" },
      h("label", { for: "token" }, "API token"),
      input,
      h("span", { class: "hint", id: "token-hint" }, "The daemon keeps it in <state-dir>/token."),
    ),
    h("div", {}, h("button", { type: "submit" }, "Log in")),
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const t = input.value.trim();
    if (t) onToken(t);
  });
  queueMicrotask(() => input.focus());
  return form;
}
