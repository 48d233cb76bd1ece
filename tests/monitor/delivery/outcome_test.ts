/**
 * What one answer of the proxy means for the delivery queue (`afterOutcome`), as a pure
 * function: no proxy, no timers. How the queue applies these decisions is tested in
 * `proxy_queue_test.ts` and the monitor's tests.
 */
import { afterOutcome, type SentOperation } from "../../../src/monitor/delivery/outcome.ts";
import type { Wanted } from "../../../src/monitor/delivery/decide.ts";
import type { ServiceRef } from "../../../src/asabru/wire.ts";
import { assertEquals } from "../../../testing/assert.ts";

const ref: ServiceRef = { endPoint: "ep", service: "a", host: "10.0.0.1", port: 9000 };
const wanted: Wanted = { ref, version: 7n };
const add: SentOperation = {
  op: "add",
  ref,
  wantedAtSend: wanted,
  resyncedInFlight: false,
  failures: 0,
};
const remove: SentOperation = { ...add, op: "delete", wantedAtSend: undefined };
const deletesRemove = { deletesRemove: true };
const deletesNothing = { deletesRemove: false };
const quiet = { assumedApplied: false, mayHaveRestarted: false, nextGoesFirst: false };

Deno.test("outcome ok: the proxy holds exactly what was sent; its next operation goes first", () => {
  const sent = {
    ...quiet,
    counter: "ok",
    service: "delivered",
    nextGoesFirst: true,
    proxy: "reachable",
    journal: "sent",
    line: "sent",
  } as const;
  assertEquals(afterOutcome(add, { kind: "ok", ms: 3 }, deletesRemove), {
    ...sent,
    holding: { acknowledged: wanted },
  });
  assertEquals(afterOutcome(remove, { kind: "ok", ms: 3 }, deletesRemove), {
    ...sent,
    holding: { acknowledged: undefined },
  });
});

Deno.test("outcome ok during a resync: the resync wins, its delete comes next", () => {
  const sent = { ...add, resyncedInFlight: true };
  assertEquals(afterOutcome(sent, { kind: "ok", ms: 3 }, deletesRemove), {
    ...quiet,
    counter: "ok",
    holding: { uncertain: ref },
    service: "delivered",
    proxy: "reachable",
    line: "sent-during-resync",
  });
});

Deno.test("outcome rejected: that service alone retries with back-off, the proxy is up", () => {
  const refused = { kind: "rejected", message: "no such end point ep", ms: 1 } as const;
  const decision = {
    ...quiet,
    counter: "rejected",
    service: "after-back-off",
    proxy: "reachable",
    failure: "no such end point ep",
    journal: "rejected",
    line: "refused",
  } as const;
  assertEquals(afterOutcome(add, refused, deletesRemove), decision);
  // An add refused with "not found" is a refusal like any other: only a delete is done by it.
  const notFound = { ...refused, message: "Endpoint Not Found" };
  assertEquals(afterOutcome(add, notFound, deletesRemove), {
    ...decision,
    failure: "Endpoint Not Found",
  });
});

Deno.test("outcome rejected: a delete of an end point the proxy does not know is done", () => {
  const notFound = { kind: "rejected", message: "endpoint ep not found", ms: 1 } as const;
  assertEquals(afterOutcome(remove, notFound, deletesRemove), {
    ...quiet,
    counter: "rejected",
    holding: {},
    service: "as-before",
    proxy: "reachable",
    line: "nothing-to-delete",
  });
  // During a resync the proxy may have restarted meanwhile: the delete is a refusal, retried.
  const resyncing = { ...remove, resyncedInFlight: true };
  assertEquals(afterOutcome(resyncing, notFound, deletesRemove).service, "after-back-off");
});

Deno.test("outcome misconfigured, unauthorized: the whole queue pauses, nothing uncertain", () => {
  assertEquals(
    afterOutcome(add, { kind: "misconfigured", reason: "404 Not Found", ms: 1 }, deletesRemove),
    {
      ...quiet,
      counter: "misconfigured",
      service: "with-the-queue",
      proxy: "misconfigured",
      failure: "404 Not Found",
    },
  );
  assertEquals(
    afterOutcome(add, { kind: "unauthorized", message: "401", ms: 1 }, deletesRemove),
    {
      ...quiet,
      counter: "unauthorized",
      service: "with-the-queue",
      proxy: "unauthorized",
      failure: "401",
    },
  );
});

Deno.test("outcome not sent: the proxy is unreachable; refused may be a restart, timed out not", () => {
  const decision = {
    ...quiet,
    counter: "notSent",
    service: "with-the-queue",
    proxy: "unreachable",
    failure: "connection refused",
  } as const;
  assertEquals(
    afterOutcome(add, { kind: "not-sent", reason: "connection refused", ms: 1 }, deletesRemove),
    { ...decision, mayHaveRestarted: true },
  );
  assertEquals(
    afterOutcome(
      add,
      { kind: "not-sent", reason: "connection refused", ms: 1, timedOut: true },
      deletesRemove,
    ),
    decision,
  );
});

Deno.test("outcome not applied: sent again at once the first time, then with back-off", () => {
  const closed = { kind: "not-applied", reason: "closed unread", ms: 1 } as const;
  assertEquals(afterOutcome(add, closed, deletesRemove), {
    ...quiet,
    counter: "notApplied",
    service: "at-once",
    line: "not-applied",
  });
  assertEquals(
    afterOutcome({ ...add, failures: 1 }, closed, deletesRemove).service,
    "after-back-off",
  );
});

Deno.test("outcome uncertain: the proxy may hold copies, so a delete comes first", () => {
  const decision = {
    ...quiet,
    counter: "uncertain",
    holding: { uncertain: ref },
    service: "with-the-queue",
    proxy: "unreachable",
    failure: "timed out",
    journal: "uncertain",
    line: "uncertain",
  } as const;
  assertEquals(
    afterOutcome(add, { kind: "uncertain", reason: "timed out", ms: 1, timedOut: true }, {
      deletesRemove: true,
    }),
    decision,
  );
  // A broken connection may be a restart; a timeout or a clean close is not.
  assertEquals(
    afterOutcome(
      add,
      { kind: "uncertain", reason: "timed out", ms: 1, connectionBroke: true },
      deletesRemove,
    ),
    { ...decision, mayHaveRestarted: true },
  );
});

Deno.test("outcome uncertain where delete removes nothing: taken as applied, no second slot", () => {
  const lost = { kind: "uncertain", reason: "closed", ms: 1 } as const;
  const decision = {
    ...quiet,
    counter: "uncertain",
    service: "taken-as-applied",
    proxy: "unreachable",
    failure: "closed",
    journal: "uncertain",
    line: "taken-as-applied",
  } as const;
  assertEquals(afterOutcome(add, lost, deletesNothing), {
    ...decision,
    assumedApplied: true,
    holding: { acknowledged: wanted },
  });
  assertEquals(afterOutcome(remove, lost, deletesNothing), {
    ...decision,
    holding: { acknowledged: undefined },
  });
});
