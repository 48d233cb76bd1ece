/**
 * A TCP listener on 127.0.0.1 that only counts the connections made to it: give its address where
 * a program would connect (ZooKeeper, the proxy) to prove that it did not.
 *
 * @example
 * ```ts
 * await using recorder = ConnectRecorder.start();
 * // run the program with ZK_HOST=recorder.address ...
 * assertEquals(recorder.connects, 0);
 * ```
 *
 * @module
 */

/** Counts connections; each is closed as soon as it is accepted. */
export class ConnectRecorder implements AsyncDisposable {
  /** `127.0.0.1:PORT` */
  readonly address: string;
  readonly #listener: Deno.TcpListener;
  readonly #accepting: Promise<void>;
  #connects = 0;

  private constructor(listener: Deno.TcpListener) {
    this.#listener = listener;
    this.address = `127.0.0.1:${listener.addr.port}`;
    this.#accepting = this.#accept();
  }

  /** Listens on a free port of 127.0.0.1. */
  static start(): ConnectRecorder {
    return new ConnectRecorder(Deno.listen({ hostname: "127.0.0.1", port: 0 }));
  }

  /** Connections accepted so far. */
  get connects(): number {
    return this.#connects;
  }

  async #accept(): Promise<void> {
    try {
      for await (const conn of this.#listener) {
        this.#connects++;
        conn.close();
      }
    } catch {
      // the listener was closed
    }
  }

  /** Stops listening. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.#listener.close();
    await this.#accepting;
  }
}
