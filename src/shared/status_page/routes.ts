/**
 * The status page on the status server: `GET /` (the page), its script and style sheet, and
 * `GET /v1/status` (the JSON document the page shows). No build step and nothing from outside:
 * the three files are strings in this folder, so `deno compile` carries them.
 *
 * The page's `Content-Security-Policy` allows script and style from the same origin only and
 * nothing inline: even a name from ZooKeeper that got into the page as markup could not run.
 *
 * @module
 */
import type { Hono } from "hono";
import { PAGE_HTML } from "./page_html.ts";
import { PAGE_JS } from "./page_js.ts";
import { PAGE_CSS } from "./page_css.ts";

/** The page's policy: its own script, style and requests only; no frames, forms or plugins. */
export const PAGE_CSP = "default-src 'none'; script-src 'self'; style-src 'self'; " +
  "connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; " +
  "frame-ancestors 'none'";

/**
 * How long one built `/v1/status` answers every request. The document of a 10,000-service tree
 * weighs 1.2 MiB and takes 78-600 ms to build and serialise on the event loop the ZooKeeper
 * session also needs; the route is open to anyone who reaches the port, so without this each
 * request (a script in a loop, ten open tabs) costs that again. The page polls every 2 s.
 */
export const STATUS_DOCUMENT_MAX_AGE_MS = 1000;

/** Options of {@link addStatusPage}. */
export interface StatusPageOptions {
  /** Milliseconds one built document is served for. Default {@link STATUS_DOCUMENT_MAX_AGE_MS}. */
  maxAgeMs?: number;
  /** The clock the age is measured on (tests). Default `performance.now()`. */
  nowMs?: () => number;
}

/**
 * Adds the page's routes to a status app; `statusDocument` is called at a `GET /v1/status` when
 * the last document built is older than `maxAgeMs`, so at most once per that period whatever
 * the number of requests.
 */
export function addStatusPage(
  app: Hono,
  statusDocument: () => unknown,
  options: StatusPageOptions = {},
): void {
  const maxAgeMs = options.maxAgeMs ?? STATUS_DOCUMENT_MAX_AGE_MS;
  const nowMs = options.nowMs ?? (() => performance.now());
  let built: { json: string; atMs: number } | undefined;
  const headers = (type: string) => ({
    "Content-Type": type,
    "Content-Security-Policy": PAGE_CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
  });
  app.get("/", (c) => c.body(PAGE_HTML, 200, headers("text/html; charset=utf-8")));
  app.get(
    "/status/page.js",
    (c) => c.body(PAGE_JS, 200, headers("text/javascript; charset=utf-8")),
  );
  app.get("/status/page.css", (c) => c.body(PAGE_CSS, 200, headers("text/css; charset=utf-8")));
  app.get("/v1/status", (c) => {
    const now = nowMs();
    if (built === undefined || now - built.atMs >= maxAgeMs) {
      built = { json: JSON.stringify(statusDocument()), atMs: now };
    }
    return c.body(built.json, 200, { "Content-Type": "application/json" });
  });
}
