/**
 * A recursive delete that works (the library's own is broken): depth first, tolerant of nodes
 * that vanish meanwhile, and retried when children appear between the listing and the delete.
 *
 * @module
 */
import { ZkNoNodeError, ZkNotEmptyError } from "./errors.ts";

/** What a recursive delete needs of a session. */
export interface DeletesZnodes {
  getChildren(path: string): Promise<{ children: string[] }>;
  delete(path: string, version?: number): Promise<void>;
}

const MAX_ATTEMPTS = 10;

/** Deletes `path` and its subtree. Resolves `false` when `path` did not exist. */
export async function deleteRecursive(session: DeletesZnodes, path: string): Promise<boolean> {
  for (let attempt = 1;; attempt++) {
    let children: string[];
    try {
      ({ children } = await session.getChildren(path));
    } catch (error) {
      if (error instanceof ZkNoNodeError) return false;
      throw error;
    }
    await Promise.all(children.map((child) => deleteRecursive(session, childPath(path, child))));
    try {
      await session.delete(path);
      return true;
    } catch (error) {
      if (error instanceof ZkNoNodeError) return true;
      if (error instanceof ZkNotEmptyError && attempt < MAX_ATTEMPTS) continue;
      throw error;
    }
  }
}

/** `parent/child`, also for the root. */
export function childPath(parent: string, child: string): string {
  return parent === "/" ? `/${child}` : `${parent}/${child}`;
}
