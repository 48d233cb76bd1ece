/**
 * A stand-in for the ChistaDATA Asabru proxy's control API, with the real proxy's semantics (see
 * DESIGN.md, "The proxy's control API"): a real HTTP server on 127.0.0.1 that parses each
 * `POST /updateService` body strictly, keeps per end point the list of services the proxy would
 * balance over, and can be switched into the faults the monitor must survive.
 *
 * Semantics, as the real proxy's source has them:
 * - `add` APPENDS `{service, host, port}` to the end point's list without looking for an existing
 *   entry: a repeated add gives the service a second slot ({@link StandInAsabru.duplicates}).
 * - `delete` removes every entry of that service name from the end point.
 * - An end point the proxy's configuration does not know answers HTTP 200
 *   `{"status":"error","message":"Endpoint 'x' not found."}`; success answers HTTP 200
 *   `{"status":"ok","message":"..."}`.
 *
 * Every answer goes out in one write (`Deno.serve` with a string body), so keep-alive clients
 * never meet a delayed-ACK stall. The server is quiet: it prints nothing.
 *
 * @example
 * ```ts
 * await using proxy = await StandInAsabru.start({ endPoints: ["ch_http_node1"] });
 * const added = proxy.nextRequest((r) => r.op === "add" && r.service === "ch_http_service2");
 * // ... let the monitor run ...
 * await withTimeout(added, 2000, "the add of ch_http_service2");
 * assertEquals(proxy.list("ch_http_node1"), [{ service: "ch_http_service2", host: "localhost", port: 2023 }]);
 * assertEquals(proxy.duplicates(), []);
 * assertEquals(proxy.malformed, 0);
 * ```
 *
 * @module
 */

/**
 * How the stand-in treats the next requests:
 *
 * - `ok`: as the real proxy does.
 * - `refuse`: the listener is closed, so connections are refused; set another mode to listen again
 *   on the same port.
 * - `error500`: answers 500 without applying anything.
 * - `slow`: applies as `ok` does, then answers after `slowMs`.
 * - `apply-then-hang`: applies as `ok` does, then does not answer: the client's timeout fires
 *   after the change took effect. The answer (200) goes out only when the mode changes or the
 *   stand-in closes (by then the client has usually gone).
 * - `reject-all`: answers 200 with error JSON, applying nothing.
 */
export type StandInAsabruMode =
  | "ok"
  | "refuse"
  | "error500"
  | "slow"
  | "apply-then-hang"
  | "reject-all";

/** One slot of an end point's balancer list. */
export interface StandInEntry {
  /** The service's name (`<service name>`). */
  service: string;
  /** The host as sent (`<host>`, entities decoded). */
  host: string;
  /** The port as sent (`<port>`). */
  port: number;
}

/** One well-formed update the stand-in received. */
export interface StandInRequest {
  /** `performance.now()` when the request arrived. */
  at: number;
  /** `add` or `delete`. */
  op: "add" | "delete";
  /** The end point named (`<end_point name>`). */
  endPoint: string;
  /** The service named (`<service name>`). */
  service: string;
  /** The host sent. */
  host: string;
  /** The port sent. */
  port: number;
  /** The HTTP status answered; 0 while an `apply-then-hang` answer is held back. */
  status: number;
  /** Whether the change took effect (`false` for an unknown end point, `error500`, `reject-all`). */
  applied: boolean;
  /** The `Authorization` header, or `null`. */
  authorization: string | null;
  /** The `Content-Type` header, or `null`. */
  contentType: string | null;
  /** The client's port: requests with the same one came over the same connection. */
  remotePort: number;
}

/** Options of {@link StandInAsabru.start}. */
export interface StandInAsabruOptions {
  /**
   * The end points the proxy's own configuration knows; an update naming another one is answered
   * with `Endpoint '...' not found.`. Default: every name is known.
   */
  endPoints?: string[];
  /** The delay of mode `slow`, in ms. Default 200. */
  slowMs?: number;
}

/** The parts of an update body (see {@link parseUpdateBody}). */
export interface ParsedUpdate {
  /** `<operation>`: `add` or `delete`. */
  op: "add" | "delete";
  /** `<end_point name>`, non-empty. */
  endPoint: string;
  /** `<service name>`, non-empty. */
  service: string;
  /** `<host>`, non-empty (not otherwise validated: the proxy does not either). */
  host: string;
  /** `<port>`, 1–65535 in plain decimal. */
  port: number;
}

/** A stand-in Asabru proxy on 127.0.0.1. See the module documentation. */
export class StandInAsabru implements AsyncDisposable {
  /** `http://127.0.0.1:PORT/updateService` */
  readonly url: string;
  /** The port it listens on; kept across `refuse`. */
  readonly port: number;

  readonly #knownEndPoints: ReadonlySet<string> | undefined;
  readonly #lists = new Map<string, StandInEntry[]>();
  readonly #requests: StandInRequest[] = [];
  readonly #malformedReasons: string[] = [];
  readonly #remotePorts = new Set<number>();
  readonly #listeners = new Set<(request: StandInRequest) => void>();
  #server: Deno.HttpServer<Deno.NetAddr> | undefined;
  #mode: StandInAsabruMode = "ok";
  #slowMs: number;
  /** Resolved to let every held-back answer (`slow`, `apply-then-hang`) go out now. */
  #release = Promise.withResolvers<void>();
  #transition: Promise<void> = Promise.resolve();
  #closed?: Promise<void>;

  private constructor(server: Deno.HttpServer<Deno.NetAddr>, options: StandInAsabruOptions) {
    this.#server = server;
    this.port = server.addr.port;
    this.url = `http://127.0.0.1:${this.port}/updateService`;
    this.#knownEndPoints = options.endPoints ? new Set(options.endPoints) : undefined;
    this.#slowMs = options.slowMs ?? 200;
  }

  /** Starts the stand-in on a free port of 127.0.0.1, in mode `ok`, with no services. */
  static async start(options: StandInAsabruOptions = {}): Promise<StandInAsabru> {
    let standIn: StandInAsabru | undefined = undefined;
    const { server, listening } = serve(0, (request, info) => standIn!.#handle(request, info));
    // The address is known as soon as Deno.serve returns; no request is handled before `await`.
    standIn = new StandInAsabru(server, options);
    await listening;
    return standIn;
  }

  /** The current mode. */
  get mode(): StandInAsabruMode {
    return this.#mode;
  }

  /**
   * Switches mode; resolves once it is in effect (for `refuse`: the listener is closed; leaving
   * `refuse`: it listens again on {@link port}). Held-back answers are released first.
   *
   * @throws `Deno.errors.AddrInUse` if another process took the port while refusing (unlikely).
   */
  setMode(mode: StandInAsabruMode, options: { slowMs?: number } = {}): Promise<void> {
    this.#transition = this.#transition.then(async () => {
      if (this.#closed) throw new Error("stand-in Asabru is closed");
      if (options.slowMs !== undefined) this.#slowMs = options.slowMs;
      this.#releaseHeld();
      this.#mode = mode;
      if (mode === "refuse" && this.#server) {
        const server = this.#server;
        this.#server = undefined;
        await server.shutdown();
      } else if (mode !== "refuse" && !this.#server) {
        const { server, listening } = serve(
          this.port,
          (request, info) => this.#handle(request, info),
        );
        this.#server = server;
        await listening;
      }
    });
    return this.#transition;
  }

  /** The services of `endPoint`, in the proxy's order (a copy; empty for an unknown one). */
  list(endPoint: string): StandInEntry[] {
    return (this.#lists.get(endPoint) ?? []).map((entry) => ({ ...entry }));
  }

  /** Every end point that holds at least one service, with its list (a deep copy). */
  snapshot(): Map<string, StandInEntry[]> {
    const copy = new Map<string, StandInEntry[]>();
    for (const [endPoint, entries] of this.#lists) {
      if (entries.length > 0) copy.set(endPoint, entries.map((entry) => ({ ...entry })));
    }
    return copy;
  }

  /** Every well-formed update received, in arrival order (copies). */
  get requests(): StandInRequest[] {
    return this.#requests.map((request) => ({ ...request }));
  }

  /**
   * `endPoint/service` for every service name that holds more than one slot of its end point:
   * what a repeated add leaves behind. Sorted.
   */
  duplicates(): string[] {
    const found: string[] = [];
    for (const [endPoint, entries] of this.#lists) {
      const seen = new Set<string>();
      const reported = new Set<string>();
      for (const { service } of entries) {
        if (seen.has(service) && !reported.has(service)) {
          reported.add(service);
          found.push(`${endPoint}/${service}`);
        }
        seen.add(service);
      }
    }
    return found.sort();
  }

  /**
   * Requests that were not a well-formed `POST /updateService` (answered 400, 404 or 405 and
   * not applied). Tests assert there are none.
   */
  get malformed(): number {
    return this.#malformedReasons.length;
  }

  /** Why each malformed request was refused, in arrival order. */
  get malformedReasons(): string[] {
    return [...this.#malformedReasons];
  }

  /** How many client connections (distinct client ports) sent requests so far. */
  get connections(): number {
    return this.#remotePorts.size;
  }

  /**
   * Calls `listener` for every well-formed update, once it has been applied (or not) and before
   * it is answered. Returns a function that removes the listener. A listener that throws fails
   * the test (the error is reported as uncaught), not the request.
   */
  onRequest(listener: (request: StandInRequest) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Resolves with the next update that matches `predicate` (every update by default), once it has
   * been applied. Call before what causes it; bound the wait with `withTimeout`.
   */
  nextRequest(
    predicate: (request: StandInRequest) => boolean = () => true,
  ): Promise<StandInRequest> {
    return new Promise((resolve) => {
      const stop = this.onRequest((request) => {
        if (!predicate(request)) return;
        stop();
        resolve(request);
      });
    });
  }

  /** Forgets every service, as a restarted proxy does (its configuration's end points remain). */
  restartEmpty(): void {
    this.#lists.clear();
  }

  /**
   * Releases held-back answers and stops the server; resolves when it has shut down. Idempotent.
   */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      await this.#transition.catch(() => {});
      this.#releaseHeld();
      const server = this.#server;
      this.#server = undefined;
      await server?.shutdown();
    })();
    return this.#closed;
  }

  /** Same as {@link close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #releaseHeld(): void {
    this.#release.resolve();
    this.#release = Promise.withResolvers<void>();
  }

  async #handle(request: Request, info: Deno.ServeHandlerInfo<Deno.NetAddr>): Promise<Response> {
    const at = performance.now();
    this.#remotePorts.add(info.remoteAddr.port);
    const path = new URL(request.url).pathname;
    if (path !== "/updateService") {
      this.#malformedReasons.push(`${request.method} ${path}: no such path`);
      await request.body?.cancel();
      return json(404, { status: "error", message: `No route for ${path}` });
    }
    if (request.method !== "POST") {
      this.#malformedReasons.push(`${request.method} ${path}: not POST`);
      await request.body?.cancel();
      return json(405, { status: "error", message: "Method not allowed" });
    }
    const parsed = parseUpdateBody(await request.text());
    if ("error" in parsed) {
      this.#malformedReasons.push(parsed.error);
      return json(400, { status: "error", message: `Malformed update: ${parsed.error}` });
    }

    const mode = this.#mode;
    const release = this.#release.promise;
    let status = 200;
    let applied = false;
    let answer: Record<string, string>;
    if (mode === "error500") {
      status = 500;
      answer = { status: "error", message: "Internal Server Error" };
    } else if (mode === "reject-all") {
      answer = { status: "error", message: "Rejected by the stand-in (reject-all)." };
    } else if (this.#knownEndPoints && !this.#knownEndPoints.has(parsed.endPoint)) {
      answer = { status: "error", message: `Endpoint '${parsed.endPoint}' not found.` };
    } else {
      this.#apply(parsed);
      applied = true;
      answer = {
        status: "ok",
        message: parsed.op === "add" ? "Service added." : "Service deleted.",
      };
    }

    const record: StandInRequest = {
      at,
      ...parsed,
      status: mode === "apply-then-hang" ? 0 : status,
      applied,
      authorization: request.headers.get("authorization"),
      contentType: request.headers.get("content-type"),
      remotePort: info.remoteAddr.port,
    };
    this.#requests.push(record);
    for (const listener of [...this.#listeners]) {
      try {
        listener({ ...record });
      } catch (error) {
        reportError(error);
      }
    }

    if (mode === "slow") await delay(this.#slowMs, release);
    if (mode === "apply-then-hang") {
      await release;
      record.status = status;
    }
    return json(status, answer);
  }

  #apply(update: ParsedUpdate): void {
    const entries = this.#lists.get(update.endPoint);
    if (update.op === "add") {
      const entry = { service: update.service, host: update.host, port: update.port };
      if (entries) entries.push(entry);
      else this.#lists.set(update.endPoint, [entry]);
    } else if (entries) {
      this.#lists.set(update.endPoint, entries.filter((entry) => entry.service !== update.service));
    }
  }
}

/**
 * Parses an update body strictly, as an XML parser would read exactly this shape:
 *
 * ```xml
 * <end_point name="NAME"><operation>add|delete</operation>
 *   <service name="SVC"><host>HOST</host><port>PORT</port></service></end_point>
 * ```
 *
 * Whitespace is allowed between elements only. Line ends are normalised (CR LF and CR to LF) and,
 * inside attribute values, literal tab and LF become spaces, as XML 1.0 prescribes; then the five
 * predefined entities and numeric character references are decoded. Anything else (another
 * element, an unknown or unterminated entity, `]]>` in text, a character XML cannot carry, an
 * empty name or host, a port outside 1–65535) is an error.
 */
export function parseUpdateBody(body: string): ParsedUpdate | { error: string } {
  for (const char of body) {
    const code = char.codePointAt(0)!;
    if (!isXmlChar(code)) {
      return { error: `character ${codePointName(code)} is not allowed in XML` };
    }
  }
  const match = UPDATE_SHAPE.exec(body.replace(/\r\n?/g, "\n"));
  if (match === null) return { error: "body is not the <end_point> update shape" };
  const [, endPointRaw, opRaw, serviceRaw, hostRaw, portRaw] = match;

  const fields: string[] = [];
  for (
    const [raw, isText] of [[endPointRaw, false], [opRaw, true], [serviceRaw, false], [
      hostRaw,
      true,
    ], [portRaw, true]] as const
  ) {
    // Attribute-value normalisation: literal whitespace characters become spaces.
    const decoded = decode(isText ? raw : raw.replace(/[\t\n]/g, " "), isText);
    if (typeof decoded !== "string") return decoded;
    fields.push(decoded);
  }
  const [endPoint, op, service, host, portText] = fields;
  if (op !== "add" && op !== "delete") return { error: `unknown operation ${JSON.stringify(op)}` };
  if (endPoint === "") return { error: "empty end point name" };
  if (service === "") return { error: "empty service name" };
  if (host === "") return { error: "empty host" };
  if (!/^[1-9][0-9]{0,4}$/.test(portText) || Number(portText) > 65535) {
    return { error: `port ${JSON.stringify(portText)} is not 1-65535` };
  }
  return { op, endPoint, service, host, port: Number(portText) };
}

const WS = "[ \\t\\n]*";
const UPDATE_SHAPE = new RegExp(
  `^${WS}<end_point[ \\t\\n]+name="([^"<]*)"${WS}>` +
    `${WS}<operation>([^<]*)</operation>` +
    `${WS}<service[ \\t\\n]+name="([^"<]*)"${WS}>` +
    `${WS}<host>([^<]*)</host>${WS}<port>([^<]*)</port>${WS}</service>` +
    `${WS}</end_point>${WS}$`,
);

const NAMED_ENTITIES: Record<string, string> = {
  lt: "<",
  gt: ">",
  amp: "&",
  quot: '"',
  apos: "'",
};

/** Decodes entity and character references; `text` content must not hold `]]>`. */
function decode(raw: string, isText = false): string | { error: string } {
  if (isText && raw.includes("]]>")) return { error: "']]>' in text content" };
  let out = "";
  let at = 0;
  for (;;) {
    const amp = raw.indexOf("&", at);
    if (amp === -1) return out + raw.slice(at);
    out += raw.slice(at, amp);
    const semicolon = raw.indexOf(";", amp);
    const name = semicolon === -1 ? "" : raw.slice(amp + 1, semicolon);
    const numeric = /^#(?:([0-9]{1,7})|x([0-9a-fA-F]{1,6}))$/.exec(name);
    if (Object.hasOwn(NAMED_ENTITIES, name)) {
      out += NAMED_ENTITIES[name];
    } else if (numeric) {
      const code = numeric[1] !== undefined ? Number(numeric[1]) : parseInt(numeric[2], 16);
      if (!isXmlChar(code)) {
        return { error: `reference to ${codePointName(code)}, which XML cannot carry` };
      }
      out += String.fromCodePoint(code);
    } else {
      return { error: `bad entity reference at ${JSON.stringify(raw.slice(amp, amp + 12))}` };
    }
    at = semicolon + 1;
  }
}

function isXmlChar(code: number): boolean {
  return code === 0x9 || code === 0xa || code === 0xd ||
    (code >= 0x20 && code <= 0xd7ff) ||
    (code >= 0xe000 && code <= 0xfffd) ||
    (code >= 0x10000 && code <= 0x10ffff);
}

function codePointName(code: number): string {
  return `U+${code.toString(16).toUpperCase().padStart(4, "0")}`;
}

function json(status: number, body: Record<string, string>): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json" },
  });
}

function serve(
  port: number,
  handler: Deno.ServeHandler<Deno.NetAddr>,
): { server: Deno.HttpServer<Deno.NetAddr>; listening: Promise<void> } {
  const listening = Promise.withResolvers<void>();
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port,
    onListen: () => listening.resolve(),
    onError: () => new Response("Internal Server Error", { status: 500 }),
  }, handler);
  return { server, listening: listening.promise };
}

/** Resolves after `ms`, or as soon as `release` resolves; the timer never outlives it. */
async function delay(ms: number, release: Promise<void>): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([release, new Promise<void>((resolve) => timer = setTimeout(resolve, ms))]);
  } finally {
    clearTimeout(timer);
  }
}
