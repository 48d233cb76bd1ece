/**
 * Pure decisions of the mirror's persistent-recursive-watch mode: how a full read is cut into
 * `multiRead` batches, and how an event that names the watched root is told apart from
 * ClickHouse Keeper's (whose recursive-watch events name the watched path, not the node that
 * changed: ClickHouse issue 115475).
 *
 * @module
 */

/** What the mirror knows of the root znode: its creation and its last data change. */
export interface RootStat {
  czxid: bigint;
  mzxid: bigint;
}

/**
 * Whether an event naming the watched root cannot be about the root itself, judged by the
 * root's stat known when the event arrived (`known`: `null` absent, `undefined` not read yet)
 * and its stat now (`null`: absent). A real change of the root moves its `mzxid` (data) or its
 * `czxid` (created, deleted and re-created); a root with both unchanged did not have the change
 * the event reports, so the server names the watched path for changes below it.
 */
export function eventNotAboutRoot(
  type: "created" | "deleted" | "dataChanged" | "childrenChanged",
  known: RootStat | null | undefined,
  now: RootStat | null,
): boolean {
  if (known === undefined || known === null || now === null) return false;
  if (now.czxid !== known.czxid) return false;
  // Same node as before: it was not created nor deleted since; its data moved only if mzxid did.
  return type === "dataChanged" ? now.mzxid === known.mzxid : type !== "childrenChanged";
}

/** `items` cut into consecutive batches of at most `size`. */
export function inBatches<T>(items: readonly T[], size: number): T[][] {
  const batches: T[][] = [];
  for (let start = 0; start < items.length; start += size) {
    batches.push(items.slice(start, start + size));
  }
  return batches;
}
