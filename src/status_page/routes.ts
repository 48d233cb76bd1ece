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
 * Adds the page's routes to a status app; `statusDocument` is called at every
 * `GET /v1/status`.
 */
export function addStatusPage(app: Hono, statusDocument: () => unknown): void {
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
  app.get("/v1/status", (c) => c.json(statusDocument()));
}
