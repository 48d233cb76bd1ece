/**
 * A TCP proxy that injects network faults between a client and a server, for tests: pass bytes
 * through, swallow them silently (a partition), refuse new connections, or drop every connection.
 *
 * @example
 * ```ts
 * await using proxy = await FaultProxy.start({ hostname: "127.0.0.1", port: zk.port });
 * // connect the client to proxy.address, then:
 * proxy.setMode("blackhole"); // the server goes silent for the client, and the client for it
 * proxy.setMode("pass"); // traffic flows again (bytes sent meanwhile are lost)
 * proxy.dropAll(); // every connection is closed, on both sides
 * ```
 *
 * @module
 */

import { writeAll } from "../src/dev/_loopback.ts";

/**
 * - `pass`: forward bytes both ways.
 * - `blackhole`: keep every connection (existing and new) open but discard all bytes both ways, and
 *   hold back hang-ups too: each side sees a silent peer.
 * - `refuse`: close newly accepted connections at once; existing ones keep forwarding.
 */
export type FaultMode = "pass" | "blackhole" | "refuse";

/** One client connection and, once connected, its connection to the target. */
class ProxiedConnection {
  readonly client: Deno.TcpConn;
  upstream?: Deno.TcpConn;
  closed = false;
  /** Directions whose end (EOF) has been passed on as a half-close; at 2 the connection is done. */
  endsForwarded = 0;

  constructor(client: Deno.TcpConn) {
    this.client = client;
  }

  /** Keeps `upstream`, unless the connection was dropped while it was being connected. */
  attachUpstream(upstream: Deno.TcpConn): void {
    if (this.closed) closeQuietly(upstream);
    else this.upstream = upstream;
  }

  /** Closes both sides, which also settles every read or write pending on them. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    closeQuietly(this.client);
    if (this.upstream) closeQuietly(this.upstream);
  }
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // Already closed.
  }
}

/** A TCP fault proxy on 127.0.0.1 in front of one target. See {@link FaultMode}. */
export class FaultProxy {
  /** The port the proxy listens on (127.0.0.1). */
  readonly port: number;
  /** `127.0.0.1:PORT`, to put in a client's connection string instead of the target's. */
  readonly address: string;

  readonly #target: { hostname: string; port: number };
  readonly #listener: Deno.TcpListener;
  readonly #connections = new Set<ProxiedConnection>();
  readonly #tasks = new Set<Promise<void>>();
  readonly #acceptLoop: Promise<void>;
  #acceptError: unknown;
  #mode: FaultMode = "pass";
  /** Resolved (and replaced) on every mode change, drop or close: wakes the held-back hang-ups. */
  #changed = Promise.withResolvers<void>();
  #closed = false;

  private constructor(target: { hostname: string; port: number }, listener: Deno.TcpListener) {
    this.#target = { hostname: target.hostname, port: target.port };
    this.#listener = listener;
    this.port = listener.addr.port;
    this.address = `127.0.0.1:${this.port}`;
    this.#acceptLoop = this.#acceptConnections();
  }

  /** Starts a proxy in `pass` mode on a free port of 127.0.0.1, forwarding to `target`. */
  static start(target: { hostname: string; port: number }): Promise<FaultProxy> {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    return Promise.resolve(new FaultProxy(target, listener));
  }

  /** The current mode. */
  get mode(): FaultMode {
    return this.#mode;
  }

  /** How many client connections are open (including silent ones during a blackhole). */
  get connectionCount(): number {
    return this.#connections.size;
  }

  /**
   * Switches the fault mode; takes effect for the next bytes read on every connection. Leaving
   * `blackhole` passes on the hang-ups it held back.
   */
  setMode(mode: FaultMode): void {
    this.#mode = mode;
    this.#wakeWaiters();
  }

  /** Closes every current connection on both sides, like a network reset. New ones are accepted. */
  dropAll(): void {
    for (const connection of this.#connections) connection.close();
    this.#connections.clear();
    this.#wakeWaiters();
  }

  /** Stops listening, closes every connection and waits for all of the proxy's tasks to end. */
  async close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#listener.close();
      this.dropAll();
    }
    await this.#acceptLoop;
    await Promise.all(this.#tasks);
    if (this.#acceptError !== undefined) throw this.#acceptError;
  }

  /** Same as {@link FaultProxy.close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #wakeWaiters(): void {
    this.#changed.resolve();
    this.#changed = Promise.withResolvers<void>();
  }

  async #acceptConnections(): Promise<void> {
    while (!this.#closed) {
      let client: Deno.TcpConn;
      try {
        client = await this.#listener.accept();
      } catch (error) {
        // Closing the listener ends the pending accept; anything else is kept for close().
        if (!this.#closed) this.#acceptError = error;
        return;
      }
      if (this.#mode === "refuse" || this.#closed) {
        closeQuietly(client);
        continue;
      }
      const task = this.#serve(new ProxiedConnection(client));
      this.#tasks.add(task);
      task.finally(() => this.#tasks.delete(task));
    }
  }

  async #serve(connection: ProxiedConnection): Promise<void> {
    this.#connections.add(connection);
    try {
      // Connected even in blackhole mode, so that returning to pass resumes a working stream.
      try {
        connection.attachUpstream(await Deno.connect(this.#target));
      } catch {
        // Target down: in pass mode the client is closed at once, in blackhole mode it stays silent.
      }
      if (connection.closed) return;
      const { client, upstream } = connection;
      await Promise.all([
        this.#pump(connection, client, upstream),
        this.#pump(connection, upstream, client),
      ]);
    } finally {
      connection.close();
      this.#connections.delete(connection);
    }
  }

  /**
   * Carries one direction until its source ends, then passes the end on (as a half-close when
   * clean, as a close of both sides when not), but not while blackholed.
   */
  async #pump(
    connection: ProxiedConnection,
    from: Deno.TcpConn | undefined,
    to: Deno.TcpConn | undefined,
  ): Promise<void> {
    const endedCleanly = from !== undefined && await this.#forward(from, to);
    while (this.#mode === "blackhole" && !connection.closed) await this.#changed.promise;
    if (connection.closed) return;
    if (!endedCleanly || to === undefined) return connection.close();
    try {
      await to.closeWrite();
    } catch {
      return connection.close();
    }
    if (++connection.endsForwarded === 2) connection.close();
  }

  /** Copies `from` to `to` until EOF (returns true) or an error (false); discards when blackholed. */
  async #forward(from: Deno.TcpConn, to: Deno.TcpConn | undefined): Promise<boolean> {
    const buffer = new Uint8Array(16 * 1024);
    try {
      for (;;) {
        const read = await from.read(buffer);
        if (read === null) return true;
        if (this.#mode === "blackhole") continue;
        if (to === undefined) return false;
        await writeAll(to, buffer.subarray(0, read));
      }
    } catch {
      // Reset by a peer, or closed by dropAll/close.
      return false;
    }
  }
}
