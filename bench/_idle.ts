/**
 * An idle Deno process, for the baseline RSS: says `ready` on stdout, then waits (at most 30 s)
 * until it is stopped.
 *
 * @module
 */
await Deno.stdout.write(new TextEncoder().encode("ready\n"));
await new Promise((resolve) => setTimeout(resolve, 30_000));
