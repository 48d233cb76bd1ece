/**
 * The mirror's single reads (`getData` of a service an event of the recursive watch named),
 * gathered: the reads asked for before the current microtasks are over (the events of one
 * answer from ZooKeeper: a burst of creations) go out as `multiRead` requests of at most
 * `maxBatch` reads, instead of one `getData` each. ZooKeeper 3.8 spends 63–95 µs of CPU on an
 * individual `getData`, 2.6–2.9 µs on one inside a batch of 50 (issue 16). A read alone is still
 * a `getData`, so a single change waits for nothing more than before.
 *
 * Private to `tree_mirror.ts`, for the recursive-watch mode only (where the server is known to
 * answer `multiRead`).
 *
 * @module
 */
import { ZkError, type ZkReadOp, type ZkReadResult, type ZkStat } from "../zookeeper/mod.ts";

/** One znode's data and stat, as `getData` answers. */
export interface DataRead {
  data: Uint8Array;
  stat: ZkStat;
}

/** What the batcher sends with: a session's `getData` and `multiRead`. */
export interface BatchReader {
  getData(path: string): Promise<DataRead>;
  multiRead(ops: readonly ZkReadOp[]): Promise<ZkReadResult[]>;
}

interface Waiting {
  path: string;
  resolve: (read: DataRead) => void;
  reject: (error: unknown) => void;
}

/** Gathers `getData` calls into `multiRead` batches (see the module doc). */
export class ReadBatcher {
  readonly #reader: BatchReader;
  readonly #maxBatch: () => number;
  #waiting: Waiting[] = [];

  /** `maxBatch` is asked at each send: the mirror lowers it after a batch lost a connection. */
  constructor(reader: BatchReader, maxBatch: () => number) {
    this.#reader = reader;
    this.#maxBatch = maxBatch;
  }

  /**
   * `path`'s data and stat; rejects with the read's own error (`ZkNoNodeError`...) or, when the
   * whole request failed, with that failure (a connection loss), as `getData` would.
   */
  getData(path: string): Promise<DataRead> {
    const { promise, resolve, reject } = Promise.withResolvers<DataRead>();
    if (this.#waiting.push({ path, resolve, reject }) === 1) queueMicrotask(() => this.#send());
    return promise;
  }

  #send(): void {
    const waiting = this.#waiting;
    this.#waiting = [];
    const size = Math.max(1, this.#maxBatch());
    for (let start = 0; start < waiting.length; start += size) {
      const batch = waiting.slice(start, start + size);
      if (batch.length === 1) {
        this.#reader.getData(batch[0].path).then(batch[0].resolve, batch[0].reject);
        continue;
      }
      this.#reader.multiRead(batch.map(({ path }) => ({ type: "getData" as const, path }))).then(
        (results) =>
          results.forEach((result, i) => {
            if ("error" in result) batch[i].reject(result.error);
            else if (result.op === "getData") batch[i].resolve(result);
            // Never: the session answers each op with its own kind; no read is left hanging.
            else batch[i].reject(new ZkError(`multiRead answered ${result.op}`, 0, batch[i].path));
          }),
        (error) => batch.forEach(({ reject }) => reject(error)),
      );
    }
  }
}
