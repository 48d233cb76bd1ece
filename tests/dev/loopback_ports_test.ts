/**
 * Ports picked for servers that bind them later (a ZooKeeper JVM, a child's status server): free,
 * distinct, and outside the kernel's ephemeral range, from which any connection made meanwhile
 * could be handed one of them.
 */
import { reserveFreePorts } from "../../src/dev/_loopback.ts";
import { assert, assertEquals } from "../../testing/assert.ts";

const ephemeralLow = Number(
  Deno.readTextFileSync("/proc/sys/net/ipv4/ip_local_port_range").trim().split(/\s+/)[0],
);

Deno.test("reserved ports are distinct, free now, and below the kernel's ephemeral range", () => {
  const ports = reserveFreePorts(9);
  assertEquals(new Set(ports).size, 9, `distinct: ${ports}`);
  for (const port of ports) {
    assert(port >= 1024 && port < ephemeralLow, `${port} is below ${ephemeralLow}`);
    Deno.listen({ hostname: "127.0.0.1", port }).close();
  }
});

Deno.test("a port taken is passed over for another", () => {
  const [taken, free] = reserveFreePorts(2);
  using _holder = Deno.listen({ hostname: "127.0.0.1", port: taken });
  // The picks as the function maps them: the taken port first, then the free one.
  const span = ephemeralLow - 10_000;
  const picks = [taken, free].map((port) => (port - 10_000 + 0.5) / span);
  assertEquals(reserveFreePorts(1, () => picks.shift()!), [free]);
});
