/**
 * The chroot of a connection string: prefixed to every path sent, removed from every path
 * received (created paths, watch events).
 *
 * @module
 */

/** A caller's path as the server sees it: the chroot prefixed. */
export function withChroot(chroot: string, path: string): string {
  if (chroot === "") return path;
  return path === "/" ? chroot : chroot + path;
}

/**
 * A server's path as the caller sees it: the chroot removed; `undefined` when the path is not
 * under the chroot. Only whole path segments match: chroot `/app` does not cover `/apple/x`.
 */
export function withoutChroot(chroot: string, path: string): string | undefined {
  if (chroot === "") return path;
  if (path === chroot) return "/";
  if (path.startsWith(chroot + "/")) return path.slice(chroot.length);
  return undefined;
}
