/**
 * The small HTTP status server both programs run when `STATUS_PORT` is set: liveness, readiness
 * and Prometheus metrics. {@link createStatusApp} builds a Hono app from the state it reports (so
 * tests call `app.request(...)` without a port, and the monitor adds its own routes);
 * {@link serveStatus} puts an app on a port.
 *
 * Every answer is JSON (metrics aside), `Cache-Control: no-store` and
 * `X-Content-Type-Options: nosniff`. An error inside a handler
 * is logged (`["zkcm", "http"]`) and answered with a 500; it never ends the program.
 *
 * @example
 * ```ts
 * const app = createStatusApp({ ready: () => mirror.readiness(), metrics });
 * app.post("/v1/resync", (c) => c.json(queue.resyncAll(), 202));
 * const server = await serveStatus(app, { port: options.statusPort, signal: shutdown.signal });
 * // ...
 * await server.shutdown();
 * ```
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { Hono } from "hono";
import { type MetricsRegistry, PROMETHEUS_CONTENT_TYPE } from "./metrics.ts";

const log = getLogger(["zkcm", "http"]);

/** Whether a program can take traffic, and if not, why (one short reason each). */
export interface Readiness {
  /** `true` when every condition for useful work holds. */
  ready: boolean;
  /** What is missing when not ready: `"zookeeper: not connected"`, `"not the leader"`, ... */
  reasons: string[];
}

/** What the status server reports. */
export interface StatusState {
  /**
   * Liveness: `false` asks the orchestrator to restart the process (a wedged event loop, a
   * fatal state). Default: always live, since answering at all shows the process runs.
   */
  live?: () => boolean;
  /** Readiness, asked at every `GET /readyz`. */
  ready: () => Readiness;
  /** The registry `GET /metrics` renders. */
  metrics: MetricsRegistry;
}

/**
 * Builds the status app:
 *
 * - `GET /healthz`: 200 `{"status":"ok"}` while live, else 503 `{"status":"unhealthy"}`;
 * - `GET /readyz`: 200 `{"ready":true}`, or 503 `{"ready":false,"reasons":[...]}`;
 * - `GET /metrics`: the registry in the Prometheus text format;
 * - anything else: 404 `{"error":"not found"}`; a handler that throws: 500
 *   `{"error":"internal error"}` (an `HTTPException`'s own response is kept).
 *
 * `HEAD` works wherever `GET` does. Callers add their own routes to the returned app.
 */
export function createStatusApp(state: StatusState): Hono {
  const app = new Hono();
  app.use(async (c, next) => {
    await next();
    c.header("Cache-Control", "no-store");
    // The JSON documents carry names and data from ZooKeeper: a browser must never sniff one
    // into HTML or script, whoever links to it.
    c.header("X-Content-Type-Options", "nosniff");
  });

  app.get("/healthz", (c) => {
    const live = state.live?.() ?? true;
    return live ? c.json({ status: "ok" }) : c.json({ status: "unhealthy" }, 503);
  });
  app.get("/readyz", (c) => {
    const { ready, reasons } = state.ready();
    return ready ? c.json({ ready: true }) : c.json({ ready: false, reasons }, 503);
  });
  app.get("/metrics", (c) => {
    return c.body(state.metrics.render(), 200, { "Content-Type": PROMETHEUS_CONTENT_TYPE });
  });

  app.notFound((c) => c.json({ error: "not found" }, 404));
  app.onError((error, c) => {
    // Hono's HTTPException carries the response a handler chose; everything else is our fault.
    if (
      error instanceof Error && "getResponse" in error && typeof error.getResponse === "function"
    ) {
      return error.getResponse() as Response;
    }
    log.error("{method} {path} failed: {error}", {
      method: c.req.method,
      path: c.req.path,
      error,
    });
    return c.json({ error: "internal error" }, 500);
  });
  return app;
}

/** Options of {@link serveStatus}. */
export interface ServeStatusOptions {
  /** The port; `0` picks a free one (tests), see {@link StatusServer.port}. */
  port: number;
  /**
   * The address to listen on. Default `"0.0.0.0"`: probes and scrapes come from outside the
   * container, so loopback would make them fail.
   */
  hostname?: string;
  /** Aborting it shuts the server down, as {@link StatusServer.shutdown} does. */
  signal?: AbortSignal;
}

/** A listening status server. */
export interface StatusServer extends AsyncDisposable {
  /** The port it listens on (the one picked, when `0` was asked for). */
  readonly port: number;
  /** The address it listens on. */
  readonly hostname: string;
  /**
   * Stops accepting connections, lets requests in flight finish and resolves when the server has
   * closed. Safe to call more than once, and after the signal aborted.
   */
  shutdown(): Promise<void>;
}

/**
 * Serves `app` with `Deno.serve` (quietly: no "Listening on" line; one structured log line
 * instead) and resolves once it listens.
 *
 * @throws what `Deno.serve` throws when it cannot listen (`Deno.errors.AddrInUse`, ...)
 *
 * @example
 * ```ts
 * await using server = await serveStatus(app, { port: 0, hostname: "127.0.0.1" });
 * await fetch(`http://127.0.0.1:${server.port}/healthz`);
 * ```
 */
export async function serveStatus(app: Hono, options: ServeStatusOptions): Promise<StatusServer> {
  const hostname = options.hostname ?? "0.0.0.0";
  const listening = Promise.withResolvers<number>();
  const server = Deno.serve(
    {
      port: options.port,
      hostname,
      signal: options.signal,
      onListen: (address) => listening.resolve(address.port),
      onError: (error) => {
        // Only reached for errors outside Hono's own handling (Hono answers handler errors).
        log.error("status server failed a request: {error}", { error });
        return new Response(JSON.stringify({ error: "internal error" }), {
          status: 500,
          headers: { "Content-Type": "application/json" },
        });
      },
    },
    app.fetch,
  );
  const port = await listening.promise;
  log.info("status server listening on {hostname}:{port}", { hostname, port });

  let closing: Promise<void> | undefined;
  const shutdown = () => {
    closing ??= (async () => {
      if (!options.signal?.aborted) await server.shutdown();
      await server.finished;
      log.debug("status server closed on {hostname}:{port}", { hostname, port });
    })();
    return closing;
  };
  return { port, hostname, shutdown, [Symbol.asyncDispose]: shutdown };
}
