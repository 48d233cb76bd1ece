/**
 * The proxy's update URL (`ASABRU_API_URL`) as an operator writes it: refused when it carries
 * credentials (the proxy is never sent them from there, and they would end up in every log line
 * that names the proxy), compared by what it reaches rather than how it is spelt (so one proxy
 * listed twice is found), and shown with any password hidden.
 *
 * @module
 */
import * as v from "valibot";
import { UrlSchema } from "../shared/option_schemas.ts";

/** `scheme://user:password@`: the part of a URL that must never be printed as is. */
const USER_INFO = /\b([a-z][a-z0-9+.-]*:\/\/)([^/\s:@]*)(?::[^/\s@]*)?@/gi;

/**
 * Hides the password of every URL in `text` (`http://user:secret@p/` → `http://user:***@p/`),
 * so that a line naming a proxy can be logged whatever the operator wrote. The one place where
 * URLs are made fit for logs, metrics labels and status pages.
 *
 * @example
 * ```ts
 * redactUrl("http://ops:s3cret@proxy:8080/updateService"); // "http://ops:***@proxy:8080/updateService"
 * ```
 */
export function redactUrl(text: string): string {
  return text.replace(USER_INFO, (_match, scheme: string, user: string) => `${scheme}${user}:***@`);
}

/**
 * What a proxy URL reaches, for finding one proxy listed twice: the scheme, the host in lower
 * case, the port (the scheme's default made explicit), the path without trailing slashes, and the
 * query. `localhost` and `127.0.0.1` stay different: whether they are the same machine is the
 * operator's business, a spelling is not.
 *
 * @example
 * ```ts
 * proxyIdentity("HTTP://Proxy:80/updateService/"); // "http://proxy:80/updateService"
 * ```
 */
export function proxyIdentity(url: string): string {
  const parsed = new URL(url);
  const port = parsed.port || (parsed.protocol === "https:" ? "443" : "80");
  const path = parsed.pathname.replace(/\/+$/, "");
  return `${parsed.protocol}//${parsed.hostname}:${port}${path}${parsed.search}`;
}

/**
 * One line for each URL that reaches a proxy listed before it, naming both as written (passwords
 * hidden); empty when every proxy is listed once.
 */
export function duplicateProxies(urls: readonly string[], label: string): string[] {
  const firstByIdentity = new Map<string, string>();
  const lines: string[] = [];
  for (const url of urls) {
    const identity = proxyIdentity(url);
    const first = firstByIdentity.get(identity);
    if (first === undefined) {
      firstByIdentity.set(identity, url);
      continue;
    }
    const same = first === url ? "is listed twice" : `is the same proxy as ${quote(first)}`;
    lines.push(
      `${label}: ${quote(url)} ${same} (a trailing slash, the default port or the host's case ` +
        "do not make another proxy): list each proxy once, or every change reaches it twice",
    );
  }
  return lines;
}

/** The credentials a URL carries, if any: `user:password@` or `user@`. */
function hasCredentials(url: string): boolean {
  const parsed = new URL(url);
  return parsed.username !== "" || parsed.password !== "";
}

/**
 * An `http:`/`https:` proxy URL without credentials in it. The refusal points at where they
 * belong: the login options (`ASABRU_USERNAME`, `ASABRU_PASSWORD`) or a token
 * (`ASABRU_API_TOKEN`).
 */
export const ProxyUrlSchema: v.GenericSchema<string, string> = v.pipe(
  UrlSchema,
  v.check(
    (url) => !hasCredentials(url),
    "carries credentials: give them with ASABRU_USERNAME and ASABRU_PASSWORD (the proxy's login) or ASABRU_API_TOKEN, never in the URL",
  ),
);

function quote(url: string): string {
  return JSON.stringify(redactUrl(url));
}
