/**
 * One health check of a {@link HealthTarget} (`checkOnce`, re-exported by `health_check.ts`): one
 * HTTP GET, ClickHouse's two requests, or one TCP connect, under one abort signal that fires on
 * timeout or cancellation. However a check ends, it leaves no body, socket, timer or pending
 * operation behind.
 *
 * @module
 */
import type { HealthTarget } from "./_health_target.ts";
import { oneLine } from "../shared/log_text.ts";

/** The outcome of one check: `detail` is a short one-line reason, `"ok"` when healthy. */
export interface HealthCheckResult {
  healthy: boolean;
  detail: string;
}

const OK: HealthCheckResult = { healthy: true, detail: "ok" };

/** The longest `detail`: it goes into one log line and a status page. */
const DETAIL_LIMIT = 200;

/**
 * Checks `target` once, within `timeoutMs` (the whole check: ClickHouse's two requests share it).
 * Never rejects: a failure is an unhealthy result whose `detail` says why, e.g.
 * `"HTTP 503 from /replicas_status"`, `"connection refused"`, `"timed out after 1000 ms"`, or
 * `"aborted"` when `signal` aborted first. Response bodies are consumed or cancelled and sockets
 * closed, whichever way the check ends; no timer outlives the call.
 */
export async function checkOnce(
  target: HealthTarget,
  options: { timeoutMs: number; signal?: AbortSignal },
): Promise<HealthCheckResult> {
  const { timeoutMs, signal } = options;
  if (signal?.aborted) return { healthy: false, detail: "aborted" };
  // One controller for both causes, with a timer cleared on the way out (AbortSignal.timeout's
  // timer would outlive a quick answer), and a flag that tells the two causes apart.
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort(new DOMException(`timed out after ${timeoutMs} ms`, "TimeoutError"));
  }, timeoutMs);
  const onAbort = () => controller.abort(signal?.reason);
  signal?.addEventListener("abort", onAbort, { once: true });
  try {
    return await probe(target, controller.signal);
  } catch (error) {
    if (timedOut) return { healthy: false, detail: `timed out after ${timeoutMs} ms` };
    if (signal?.aborted) return { healthy: false, detail: "aborted" };
    return { healthy: false, detail: describeProbeError(error) };
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener("abort", onAbort);
  }
}

/** Probes `target` once; rejects when a request fails (refused, reset, aborted). */
function probe(target: HealthTarget, signal: AbortSignal): Promise<HealthCheckResult> {
  switch (target.kind) {
    case "http":
      return probeHttp(target.url, signal);
    case "clickhouse":
      return probeClickHouse(target.baseUrl, signal);
    case "tcp":
      return probeTcp(target.host, target.port, signal);
  }
}

/**
 * How every HTTP check asks: on a connection of its own, closed after the answer. A server that is
 * stopping refuses new connections but may go on answering one that is kept alive: ClickHouse 18.16
 * answers `/ping` with `Ok.` on a busy kept-alive connection for as long as it stays busy after
 * SIGTERM (over 15 s measured), while the proxy's new connections are refused.
 */
const FRESH_CONNECTION: RequestInit = { redirect: "manual", headers: { connection: "close" } };

/** Healthy when the answer is 2xx. A redirect is not followed: it is not healthy. */
async function probeHttp(url: string, signal: AbortSignal): Promise<HealthCheckResult> {
  const response = await fetch(url, { ...FRESH_CONNECTION, signal });
  await response.body?.cancel();
  if (response.status >= 200 && response.status < 300) return OK;
  return { healthy: false, detail: `HTTP ${response.status} from ${new URL(url).pathname}` };
}

/**
 * Healthy when `GET /ping` answers 200 `Ok.` and `GET /replicas_status` answers 200 `Ok.`.
 *
 * While a replicated table's delay is at or above the server's `min_absolute_delay_to_close` or
 * `min_relative_delay_to_close` (MergeTree settings, off by default), `/replicas_status` answers
 * with one line per replicated table and its delays instead of `Ok.`: with status 200 in versions
 * before 2020 (Debian's 18.16 included), with 503 since (ClickHouse issue 5104, pull request
 * 9126). A replicated table that lost ZooKeeper makes it answer 500 (`Table is in readonly mode`).
 */
async function probeClickHouse(baseUrl: string, signal: AbortSignal): Promise<HealthCheckResult> {
  const ping = await fetch(`${baseUrl}/ping`, { ...FRESH_CONNECTION, signal });
  const pingBody = await readStart(ping, 64);
  if (ping.status !== 200) return unhealthy(`HTTP ${ping.status} from /ping`);
  if (pingBody.trim() !== "Ok.") {
    return unhealthy(`unexpected answer from /ping: ${JSON.stringify(pingBody)}`);
  }
  const replicas = await fetch(`${baseUrl}/replicas_status`, { ...FRESH_CONNECTION, signal });
  const replicasBody = await readStart(replicas, REPLICAS_STATUS_LIMIT);
  if (replicas.status !== 200) {
    const why = oneLine(lagging(replicasBody), DETAIL_LIMIT);
    return unhealthy(`HTTP ${replicas.status} from /replicas_status${why ? `: ${why}` : ""}`);
  }
  if (replicasBody.trim() !== "Ok.") {
    return unhealthy(`replicas lag, says /replicas_status: ${lagging(replicasBody)}`);
  }
  return OK;
}

/**
 * Enough of `/replicas_status` to reach a lagging table behind a few dozen that are in time: it
 * lists every replicated table.
 */
const REPLICAS_STATUS_LIMIT = 4096;

/**
 * The lines of a `/replicas_status` answer that name a delay, for the detail: tables that are in
 * time (`Absolute delay: 0. Relative delay: 0.`) are left out. The whole text when no line is left.
 */
function lagging(body: string): string {
  const delayed = body.split("\n")
    .filter((line) => line.trim() !== "" && !/Absolute delay: 0\. Relative delay: 0\./.test(line));
  return delayed.length > 0 ? delayed.join("\n") : body;
}

/**
 * Healthy when the TCP handshake completes; the connection is closed at once. The signal cancels
 * the connect; the race also bounds the wait if cancelling were slow, and a connection that still
 * arrives after the abort is closed when it does.
 */
async function probeTcp(
  host: string,
  port: number,
  signal: AbortSignal,
): Promise<HealthCheckResult> {
  const connecting = Deno.connect({ hostname: host, port, signal });
  const conn = await new Promise<Deno.TcpConn>((resolve, reject) => {
    const onAbort = () => {
      reject(signal.reason);
      connecting.then((late) => closeQuietly(late), () => {});
    };
    signal.addEventListener("abort", onAbort, { once: true });
    connecting.then(
      (conn) => {
        signal.removeEventListener("abort", onAbort);
        resolve(conn);
      },
      (error) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
  closeQuietly(conn);
  return OK;
}

/**
 * A short one-line reason for a failed request, e.g. `connection refused`. Timeouts and aborts are
 * named by `checkOnce`, which knows which of the two it was.
 */
function describeProbeError(error: unknown): string {
  const messages: string[] = [];
  for (let cause = error, depth = 0; cause !== undefined && depth < 5; depth++) {
    messages.push(cause instanceof Error ? cause.message : String(cause));
    cause = cause instanceof Error ? cause.cause : undefined;
  }
  const all = messages.join(" | ");
  if (error instanceof Deno.errors.ConnectionRefused || /connection refused/i.test(all)) {
    return "connection refused";
  }
  if (error instanceof Deno.errors.ConnectionReset || /connection reset/i.test(all)) {
    return "connection reset";
  }
  if (/dns error|failed to lookup|name or service not known/i.test(all)) {
    return "host name not resolved";
  }
  // The innermost cause says the most; fetch's own message is only "fetch failed".
  return oneLine(messages[messages.length - 1], DETAIL_LIMIT) || "request failed";
}

function unhealthy(detail: string): HealthCheckResult {
  return { healthy: false, detail: oneLine(detail, DETAIL_LIMIT) };
}

/**
 * Reads at most about `limit` bytes of the body as text and cancels the rest, so that neither a
 * large body nor a slow one is held on to.
 */
async function readStart(response: Response, limit: number): Promise<string> {
  if (!response.body) return "";
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let text = "";
  try {
    while (text.length < limit) {
      const { done, value } = await reader.read();
      if (done) return text + decoder.decode();
      text += decoder.decode(value, { stream: true });
    }
    return text.slice(0, limit);
  } finally {
    await reader.cancel().catch(() => {});
  }
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // Already closed.
  }
}
