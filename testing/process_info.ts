/**
 * What Linux's /proc tells about a child process, for the process tests: its children, the TCP
 * ports it listens on (its own sockets only, matched by inode, whatever else runs here), and what
 * SIGUSR1 does to it.
 */

/** The ids of the processes whose parent is `pid`. */
export async function childPids(pid: number): Promise<number[]> {
  const children: number[] = [];
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const stat = await Deno.readTextFile(`/proc/${entry.name}/stat`);
      // After the command name in parentheses: state, then the parent's id.
      const parent = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (parent === pid) children.push(Number(entry.name));
    } catch {
      // It exited while being read.
    }
  }
  return children;
}

/** The TCP ports (IPv4 and IPv6) on which process `pid` has a listening socket. */
export async function listeningPorts(pid: number): Promise<number[]> {
  const inodes = new Set<string>();
  for await (const entry of Deno.readDir(`/proc/${pid}/fd`)) {
    try {
      const target = await Deno.readLink(`/proc/${pid}/fd/${entry.name}`);
      const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
      if (inode) inodes.add(inode);
    } catch {
      // Closed while being read.
    }
  }
  const ports = new Set<number>();
  for (const table of ["tcp", "tcp6"]) {
    const text = await Deno.readTextFile(`/proc/${pid}/net/${table}`);
    for (const line of text.split("\n").slice(1)) {
      const fields = line.trim().split(/\s+/);
      // local_address is "ADDR:PORT" in hex; state 0A is LISTEN; the inode is the tenth field.
      if (fields.length < 10 || fields[3] !== "0A" || !inodes.has(fields[9])) continue;
      ports.add(parseInt(fields[1].split(":")[1], 16));
    }
  }
  return [...ports].sort((a, b) => a - b);
}

const SIGUSR1_BIT = 1n << 9n;

/** Whether the kernel has SIGUSR1 ignored, and whether a handler catches it, for `pid`. */
export async function sigusr1Disposition(
  pid: number,
): Promise<{ ignored: boolean; caught: boolean }> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const mask = (field: string) =>
    BigInt(`0x${new RegExp(`^${field}:\\s*(\\w+)`, "m").exec(status)![1]}`);
  return {
    ignored: (mask("SigIgn") & SIGUSR1_BIT) !== 0n,
    caught: (mask("SigCgt") & SIGUSR1_BIT) !== 0n,
  };
}
