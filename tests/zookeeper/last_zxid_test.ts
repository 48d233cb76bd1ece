import { lastZxidAfterReply } from "../../src/zookeeper/_last_zxid.ts";
import { Xid } from "../../src/zookeeper/_records.ts";
import { assertEquals } from "../../testing/assert.ts";

Deno.test("the last zxid moves with replies to requests, not with pings, auth or events", () => {
  const seen = 0x10n;
  assertEquals(lastZxidAfterReply(seen, { xid: Xid.ping, zxid: 0x99n, err: 0 }), seen);
  assertEquals(lastZxidAfterReply(seen, { xid: Xid.auth, zxid: 0x99n, err: 0 }), seen);
  assertEquals(lastZxidAfterReply(seen, { xid: Xid.notification, zxid: 0x99n, err: 0 }), seen);
  assertEquals(lastZxidAfterReply(seen, { xid: 7, zxid: 0x20n, err: 0 }), 0x20n);
  assertEquals(lastZxidAfterReply(seen, { xid: Xid.setWatches, zxid: 0x21n, err: 0 }), 0x21n);
  assertEquals(lastZxidAfterReply(seen, { xid: 8, zxid: -1n, err: -101 }), seen, "no zxid");
  assertEquals(lastZxidAfterReply(seen, { xid: 9, zxid: 0x5n, err: 0 }), seen, "never back");
});
