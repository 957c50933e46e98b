/** The API token for this tab: kept in sessionStorage (gone when the tab closes), never in localStorage or a cookie. */
const KEY = "tvisor.token";

export function loadToken(): string | null {
  // `tvisor web --open` prints a URL with #token=...: the fragment never reaches a server (RFC 3986 §3.5).
  const m = /(?:^#|&)token=([0-9a-fA-F]+)/.exec(location.hash);
  if (m) {
    sessionStorage.setItem(KEY, m[1]);
    history.replaceState(null, "", `${location.pathname}#/`);
  }
  return sessionStorage.getItem(KEY);
}

export function saveToken(token: string): void {
  sessionStorage.setItem(KEY, token);
}

export function clearToken(): void {
  sessionStorage.removeItem(KEY);
}
