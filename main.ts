/**
 * The entry of the Docker image and of `dist/zk-cluster-monitor`: `MODE=monitor` runs the
 * monitor, `MODE=client` the client, exactly as the original tool's image did.
 *
 * @module
 */
import { printLines, resolveMode } from "./mod.ts";

const resolved = resolveMode(Deno.env.get("MODE"));
if ("error" in resolved) {
  printLines(Deno.stderr, [`zk-cluster-monitor: ${resolved.error}`]);
  Deno.exit(2);
}
if (resolved.mode === "monitor") await import("./monitor.ts");
else await import("./client.ts");
