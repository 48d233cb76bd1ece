import { withChroot, withoutChroot } from "../../src/zookeeper/_chroot.ts";
import { assertEquals } from "../../testing/assert.ts";

Deno.test("the chroot is removed only as whole path segments", () => {
  assertEquals(withoutChroot("/app", "/app"), "/");
  assertEquals(withoutChroot("/app", "/app/x"), "/x");
  assertEquals(withoutChroot("/app", "/app/x/y"), "/x/y");
  assertEquals(withoutChroot("/app", "/apple/x"), undefined);
  assertEquals(withoutChroot("/app", "/apple"), undefined);
  assertEquals(withoutChroot("/app", "/other"), undefined);
  assertEquals(withoutChroot("/a/b", "/a/b/c"), "/c");
  assertEquals(withoutChroot("/a/b", "/a/bc"), undefined);
  assertEquals(withoutChroot("", "/apple/x"), "/apple/x");
});

Deno.test("the chroot is prefixed to every path sent, the root becoming the chroot", () => {
  assertEquals(withChroot("/app", "/"), "/app");
  assertEquals(withChroot("/app", "/x"), "/app/x");
  assertEquals(withChroot("", "/x"), "/x");
});
