/**
 * One health check of a {@link HealthTarget} (`checkOnce`, re-exported by `health_check.ts`): one
 * HTTP GET, ClickHouse's two requests, or one TCP connect, under one abort signal that fires on
 * timeout or cancellation. However a check ends, it leaves no body, socket, timer or pending
 * operation behind.
 *
 * @module
 */
import type { HealthTarget } from "./_health_target.ts";

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

/** Healthy when the answer is 2xx. A redirect is not followed: it is not healthy. */
async function probeHttp(url: string, signal: AbortSignal): Promise<HealthCheckResult> {
  const response = await fetch(url, { signal, redirect: "manual" });
  await response.body?.cancel();
  if (response.status >= 200 && response.status < 300) return OK;
  return { healthy: false, detail: `HTTP ${response.status} from ${new URL(url).pathname}` };
}

/**
 * Healthy when `GET /ping` answers 200 `Ok.` and `GET /replicas_status` answers 200. ClickHouse
 * answers 503 on the latter while a replicated table's delay is above
 * `max_replica_delay_for_distributed_queries`, and names the lagging tables in the body.
 */
async function probeClickHouse(baseUrl: string, signal: AbortSignal): Promise<HealthCheckResult> {
  const ping = await fetch(`${baseUrl}/ping`, { signal, redirect: "manual" });
  const pingBody = await readStart(ping, 64);
  if (ping.status !== 200) return unhealthy(`HTTP ${ping.status} from /ping`);
  if (pingBody.trim() !== "Ok.") {
    return unhealthy(`unexpected answer from /ping: ${JSON.stringify(pingBody)}`);
  }
  const replicas = await fetch(`${baseUrl}/replicas_status`, { signal, redirect: "manual" });
  const replicasBody = await readStart(replicas, 512);
  if (replicas.status !== 200) {
    const why = oneLine(replicasBody);
    return unhealthy(`HTTP ${replicas.status} from /replicas_status${why ? `: ${why}` : ""}`);
  }
  return OK;
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
  return oneLine(messages[messages.length - 1]) || "request failed";
}

function unhealthy(detail: string): HealthCheckResult {
  return { healthy: false, detail: oneLine(detail) };
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

/** Control characters become spaces, runs of space one space; the result is cut to the limit. */
function oneLine(text: string): string {
  // deno-lint-ignore no-control-regex
  const flat = text.replace(/[\u0000-\u001f\u007f]+/g, " ").replace(/ {2,}/g, " ").trim();
  return flat.length > DETAIL_LIMIT ? `${flat.slice(0, DETAIL_LIMIT - 3)}...` : flat;
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // Already closed.
  }
}
