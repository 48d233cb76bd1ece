/**
 * The monitor's acting routes on its status server, each behind {@link requireOperator} (the
 * operator's token, same origin only):
 *
 * - `POST /v1/resync`: a full resync of every proxy; 202
 *   `{"status":"ok","resync":[proxies],"skipped":[proxies]}` (skipped: per-request delivery to a
 *   proxy whose delete removes nothing, where a resync would add a second slot of each service);
 * - `POST /v1/guard/release`: sends every delete the mass-delete guard holds;
 *   200 `{"released": n}`.
 *
 * @module
 */
import type { Hono } from "hono";
import { requireOperator } from "./operator_auth.ts";

/** What the acting routes do. */
export interface MonitorActions {
  /** The operator's token; `undefined`: every action is refused. */
  token: string | undefined;
  /** Starts a full resync; returns the proxies resynced and those skipped. */
  resync: () => { resynced: string[]; skipped: string[] };
  /** Releases the held deletes; returns how many. */
  releaseGuard: () => number;
}

/** Adds the acting routes to the monitor's status app. */
export function addMonitorActions(app: Hono, actions: MonitorActions): void {
  const operator = requireOperator(actions.token);
  app.post("/v1/guard/release", operator, (c) => c.json({ released: actions.releaseGuard() }));
  app.post(
    "/v1/resync",
    operator,
    (c) => {
      const { resynced, skipped } = actions.resync();
      return c.json({ status: "ok", resync: resynced, skipped }, 202);
    },
  );
}
