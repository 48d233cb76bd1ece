/**
 * A plain fetch loop, run as its own process by the receiver-ceiling measurement: the updates
 * listed in UPDATES_FILE (JSON, `[{op, key}]`), CONCURRENCY at a time over keep-alive
 * connections. Prints `{"elapsedMs":...,"failed":...,"skipped":...}` on stdout.
 *
 * Usage: deno run --allow-net --allow-read bench/_load.ts URL UPDATES_FILE CONCURRENCY
 *
 * @module
 */
import { loadRequests } from "./load_requests.ts";

const [url, updatesFile, concurrencyText] = Deno.args;
const updates = JSON.parse(await Deno.readTextFile(updatesFile));
const result = await loadRequests(url, updates, Number(concurrencyText), 120_000);
await Deno.stdout.write(new TextEncoder().encode(JSON.stringify(result) + "\n"));
