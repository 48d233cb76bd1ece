/**
 * The whole-state chaos checker's rules (chaos/whole_state.ts), on plain data: the proxy must hold
 * ZooKeeper's valid services plus the template's static ones per end point; under an end point
 * with neither, nothing or the one service a monitor warned it keeps; nothing more.
 */
import {
  emptyEndPointWarnings,
  mayBeEmpty,
  staticItems,
  wholeStateDifference,
} from "../../chaos/whole_state.ts";
import { assert, assertEquals } from "../../testing/assert.ts";

const STATICS = staticItems();
const keptLine = (endPoint: string, key: string) =>
  JSON.stringify({
    level: "WARN",
    message: `end point ${endPoint} has no service left (none in the template, none valid ...`,
    endPoint,
    services: [key],
  });
const templateLine = (endPoint: string) =>
  JSON.stringify({
    level: "WARN",
    message: `end point ${endPoint} has no service (...): left as the template has it at ...`,
    endPoint,
  });
const none = emptyEndPointWarnings([]);

Deno.test("whole-state checker: equal when the proxy holds ZooKeeper's services and the statics", () => {
  const zk = ["ep1/c1-s0=127.0.0.1:21010", "ep0/c0-s0=127.0.0.1:21000"];
  assertEquals(wholeStateDifference(zk, [...STATICS, ...zk], none), undefined);
});

Deno.test("whole-state checker: a missing static, a missing or extra service are divergences", () => {
  const zk = ["ep1/c1-s0=127.0.0.1:21010", "ep1/c1-s1=127.0.0.1:21011"];
  assert(wholeStateDifference(zk, zk, none) !== undefined, "the static service is missing");
  assert(wholeStateDifference(zk, [...STATICS, zk[0]], none) !== undefined, "c1-s1 is missing");
  const extra = [...STATICS, ...zk, "ep2/c2-s0=127.0.0.1:21020"];
  assert(wholeStateDifference(zk, extra, none) !== undefined, "ep2 holds a service nobody has");
  const doubled = [...STATICS, ...zk, zk[0]];
  assert(wholeStateDifference(zk, doubled, none) !== undefined, "a doubled slot");
  const elsewhere = [...STATICS, ...zk, "ep-unknown/x=127.0.0.1:1"];
  assert(wholeStateDifference(zk, elsewhere, none) !== undefined, "an unknown end point");
});

Deno.test("whole-state checker: an empty end point keeps only the one service a monitor named", () => {
  const kept = "ep2/c2-s0=127.0.0.1:21020";
  const warned = emptyEndPointWarnings([keptLine("ep2", "ep2/c2-s0")]);
  assertEquals(wholeStateDifference([], [...STATICS, kept], warned), undefined);
  assert(
    wholeStateDifference([], [...STATICS, kept], none) !== undefined,
    "kept without a warning",
  );
  const otherWarned = emptyEndPointWarnings([keptLine("ep2", "ep2/c2-s1")]);
  assert(
    wholeStateDifference([], [...STATICS, kept], otherWarned) !== undefined,
    "a warning naming another service",
  );
  const two = [...STATICS, kept, "ep2/c2-s1=127.0.0.1:21021"];
  const bothWarned = emptyEndPointWarnings([
    keptLine("ep2", "ep2/c2-s0"),
    keptLine("ep2", "ep2/c2-s1"),
  ]);
  assert(wholeStateDifference([], two, bothWarned) !== undefined, "two services kept");
  assert(
    wholeStateDifference(["ep2/c2-s1=127.0.0.1:21021"], [...STATICS, kept], warned) !== undefined,
    "a kept service while ZooKeeper has another",
  );
});

Deno.test("whole-state checker: pushed empty is allowed only where a monitor said so, never for ep0", () => {
  const warned = emptyEndPointWarnings([templateLine(`ep<&>"'`), templateLine("ep0")]);
  assert(mayBeEmpty(`ep<&>"'`, warned), "warned, no static service");
  assert(!mayBeEmpty("ep1", warned), "not warned");
  assert(!mayBeEmpty("ep0", warned), "ep0 has a static service");
});
