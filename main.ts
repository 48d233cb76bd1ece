/**
 * The entry of the Docker image and of `dist/zk-cluster-monitor`: `MODE=monitor` runs the
 * monitor, `MODE=client` the client, exactly as the original tool's image did.
 *
 * @module
 */
// Not from mod.ts: that would load both programs' modules whichever runs.
import { printLines } from "./src/shared/process.ts";
import { resolveMode } from "./src/shared/mode.ts";

const resolved = resolveMode(Deno.env.get("MODE"));
if ("error" in resolved) {
  printLines(Deno.stderr, [`zk-cluster-monitor: ${resolved.error}`]);
  Deno.exit(2);
}
if (resolved.mode === "monitor") await import("./monitor.ts");
else await import("./client.ts");
