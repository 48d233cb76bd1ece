/**
 * The watches a client holds: one-shot data, exist and child watches, and persistent (recursive)
 * listeners. Routes each server event to every local watcher it concerns, as ZooKeeper's Java
 * client does (`ZKWatchManager.materialize`), and lists the paths to re-register after a
 * reconnect, cut into packets of bounded size.
 *
 * @module
 */
import { EventType, type WatchLists } from "./_records.ts";
import type { ZkPersistentWatchKind as PersistentKind, ZkWatcher, ZkWatchEvent } from "./types.ts";

/** Kinds of one-shot watches, as SetWatches names them. */
export type OneShotKind = "data" | "exist" | "child";

/** The most bytes of watch paths one SetWatches packet carries (the Java client's limit). */
export const SET_WATCHES_MAX_BYTES = 128 * 1024;

const eventNames: Partial<Record<number, ZkWatchEvent["type"]>> = {
  [EventType.created]: "created",
  [EventType.deleted]: "deleted",
  [EventType.dataChanged]: "dataChanged",
  [EventType.childrenChanged]: "childrenChanged",
};

/** Every watch of one client, by kind and path (paths as the caller sees them, chroot off). */
export class WatchRegistry {
  readonly #oneShot: Record<OneShotKind, Map<string, Set<ZkWatcher>>> = {
    data: new Map(),
    exist: new Map(),
    child: new Map(),
  };
  readonly #persistent: Record<PersistentKind, Map<string, Set<ZkWatcher>>> = {
    persistent: new Map(),
    persistentRecursive: new Map(),
  };

  /** Whether no watch at all is held. */
  get isEmpty(): boolean {
    return [...Object.values(this.#oneShot), ...Object.values(this.#persistent)].every((map) =>
      map.size === 0
    );
  }

  /** Adds a one-shot watcher; it is dropped once it has fired. */
  addOneShot(kind: OneShotKind, path: string, watcher: ZkWatcher): void {
    addTo(this.#oneShot[kind], path, watcher);
  }

  /** Adds a persistent listener; it stays until {@link removePersistent}. */
  addPersistent(kind: PersistentKind, path: string, listener: ZkWatcher): void {
    addTo(this.#persistent[kind], path, listener);
  }

  /** Removes a persistent listener; `true` when no listener of that kind is left on `path`. */
  removePersistent(kind: PersistentKind, path: string, listener: ZkWatcher): boolean {
    const listeners = this.#persistent[kind].get(path);
    listeners?.delete(listener);
    if (listeners?.size) return false;
    this.#persistent[kind].delete(path);
    return true;
  }

  /**
   * The watchers one server event fires, one-shot ones removed as they fire, and the event as
   * they receive it. `undefined` for events that concern no watcher kind we hold (watch-removed
   * notices, session events).
   */
  fire(type: number, path: string): { event: ZkWatchEvent; watchers: ZkWatcher[] } | undefined {
    const name = eventNames[type];
    if (name === undefined) return undefined;
    const watchers: ZkWatcher[] = [];
    const take = (kind: OneShotKind) => {
      const found = this.#oneShot[kind].get(path);
      if (!found) return;
      this.#oneShot[kind].delete(path);
      watchers.push(...found);
    };
    if (name === "childrenChanged") {
      take("child");
    } else {
      take("data");
      take("exist");
      if (name === "deleted") take("child");
    }
    watchers.push(...(this.#persistent.persistent.get(path) ?? []));
    if (name !== "childrenChanged") {
      // A recursive watch on the path itself or on any ancestor sees the change.
      for (let ancestor = path;; ancestor = parentOf(ancestor)) {
        watchers.push(...(this.#persistent.persistentRecursive.get(ancestor) ?? []));
        if (ancestor === "/") break;
      }
    }
    return { event: { type: name, path }, watchers };
  }

  /** The paths to re-register, by kind, mapped through `toServerPath` (the chroot). */
  lists(toServerPath: (path: string) => string): WatchLists {
    const paths = (map: Map<string, unknown>) => [...map.keys()].map(toServerPath);
    return {
      data: paths(this.#oneShot.data),
      exist: paths(this.#oneShot.exist),
      child: paths(this.#oneShot.child),
      persistent: paths(this.#persistent.persistent),
      persistentRecursive: paths(this.#persistent.persistentRecursive),
    };
  }
}

/**
 * Splits watch lists into packets of at most `maxBytes` of path bytes each (a path longer than
 * that travels alone), every path kept and in order.
 */
export function chunkWatchLists(all: WatchLists, maxBytes = SET_WATCHES_MAX_BYTES): WatchLists[] {
  const empty = (): WatchLists => ({
    data: [],
    exist: [],
    child: [],
    persistent: [],
    persistentRecursive: [],
  });
  const chunks: WatchLists[] = [];
  let current = empty();
  let size = 0;
  const encoder = new TextEncoder();
  for (const kind of ["data", "exist", "child", "persistent", "persistentRecursive"] as const) {
    for (const path of all[kind]) {
      const bytes = 4 + encoder.encode(path).length;
      if (size > 0 && size + bytes > maxBytes) {
        chunks.push(current);
        current = empty();
        size = 0;
      }
      current[kind].push(path);
      size += bytes;
    }
  }
  if (size > 0) chunks.push(current);
  return chunks;
}

function addTo(map: Map<string, Set<ZkWatcher>>, path: string, watcher: ZkWatcher): void {
  let set = map.get(path);
  if (!set) map.set(path, set = new Set());
  set.add(watcher);
}

function parentOf(path: string): string {
  const slash = path.lastIndexOf("/");
  return slash <= 0 ? "/" : path.slice(0, slash);
}
