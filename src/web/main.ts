/** The web console's entry: login, then a hash router over the list, create and VM views. */
import { ApiClient, AuthError } from "./api-client.js";
import type { App } from "./app.js";
import { createView } from "./create-view.js";
import { h } from "./dom.js";
import { loginView } from "./login-view.js";
import { clearToken, loadToken, saveToken } from "./session.js";
import { vmListView } from "./vm-list-view.js";
import { vmView } from "./vm-view.js";

const main = document.getElementById("main") as HTMLElement;
const nav = document.getElementById("nav") as HTMLElement;
let current: AbortController | null = null;
/** The token kept from earlier in this tab is checked once per page load before any view shows. */
let verified = false;

function showLogin(message?: string): void {
  current?.abort();
  current = null;
  nav.replaceChildren();
  document.title = "Log in · tvisor";
  main.replaceChildren(
    loginView(async (token) => {
      // Check the token once before keeping it: a wrong one shows this form again with the reason.
      try {
        await new ApiClient(token).listVms();
      } catch (e) {
        showLogin(e instanceof AuthError ? "That token was not accepted." : String(e));
        return;
      }
      saveToken(token);
      verified = true;
      route();
    }, message),
  );
}

function route(): void {
  const token = loadToken();
  if (!token) {
    showLogin();
    return;
  }
  if (!verified) {
    new ApiClient(token).listVms().then(
      () => {
        verified = true;
        route();
      },
      (e) => {
        if (e instanceof AuthError) {
          clearToken();
          showLogin("The daemon did not accept the kept token; log in again.");
        } else main.replaceChildren(h("p", { class: "error", role: "alert" }, String(e)));
      },
    );
    return;
  }
  current?.abort();
  const ctl = new AbortController();
  current = ctl;
  const app: App = {
    api: new ApiClient(token),
    signal: ctl.signal,
    go: (hash) => {
      location.hash = hash;
    },
    fail: (e) => {
      if (e instanceof AuthError) {
        clearToken();
        showLogin("The daemon did not accept the token; log in again.");
        return null;
      }
      return e instanceof Error ? e.message : String(e);
    },
  };
  nav.replaceChildren(
    h("a", { href: "#/" }, "VMs"),
    h("a", { href: "#/create" }, "Create VM"),
    h("a", { href: "play", target: "_blank" }, "Play (in-browser VM)"),
    h(
      "a",
      {
        href: "#/",
        onclick: (e: Event) => {
          e.preventDefault();
          clearToken();
          showLogin("Logged out.");
        },
      },
      "Log out",
    ),
  );
  const path = location.hash.replace(/^#/, "") || "/";
  const vm = /^\/vm\/([^/]+)$/.exec(path);
  let view: HTMLElement;
  if (path === "/create") view = createView(app);
  else if (vm) view = vmView(app, decodeURIComponent(vm[1]));
  else view = vmListView(app);
  main.replaceChildren(view);
  main.focus();
}

window.addEventListener("hashchange", route);
route();
