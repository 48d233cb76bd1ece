import * as v from "valibot";
import {
  ancestorsOf,
  MAX_PATH_BYTES,
  MAX_SEGMENT_BYTES,
  parentOf,
  validateZnodePath,
  ZnodePathSchema,
} from "../../src/service/znode_path.ts";
import { assert, assertEquals } from "../../testing/assert.ts";

Deno.test("a znode path of ordinary names is valid", () => {
  for (
    const path of [
      "/cluster1",
      "/cluster1/ch_http_node1",
      "/cluster1/ch_http_node1/ch_http_service2",
      "/a.b/-c-/with space/héllo/日本",
      "/...",
      "/.hidden",
      "/zookeeperx",
      "/x/zookeeper",
    ]
  ) {
    assertEquals(validateZnodePath(path), undefined, path);
  }
});

Deno.test("a znode path must be absolute", () => {
  assertEquals(validateZnodePath("cluster1"), "must be absolute (start with '/')");
  assertEquals(validateZnodePath("cluster1/node"), "must be absolute (start with '/')");
  assertEquals(validateZnodePath(""), "empty");
});

Deno.test("the root itself cannot be registered", () => {
  assertEquals(validateZnodePath("/"), "the root '/' cannot be registered");
});

Deno.test("a znode path has no trailing '/' and no empty segment", () => {
  assertEquals(validateZnodePath("/cluster1/"), "trailing '/'");
  assertEquals(validateZnodePath("//cluster1"), "empty segment ('//')");
  assertEquals(validateZnodePath("/cluster1//node"), "empty segment ('//')");
});

Deno.test("a znode path has no '.' or '..' segment", () => {
  assertEquals(validateZnodePath("/cluster1/../x"), "'.' or '..' segment");
  assertEquals(validateZnodePath("/cluster1/./x"), "'.' or '..' segment");
  assertEquals(validateZnodePath("/.."), "'.' or '..' segment");
  assertEquals(validateZnodePath("/a/."), "'.' or '..' segment");
});

Deno.test("a znode path refuses the characters ZooKeeper refuses, named by code point", () => {
  assertEquals(validateZnodePath("/a\u0000b"), "control or reserved character U+0000");
  assertEquals(validateZnodePath("/a\nb"), "control or reserved character U+000A");
  assertEquals(validateZnodePath("/a\u001fb"), "control or reserved character U+001F");
  assertEquals(validateZnodePath("/a\u007fb"), "control or reserved character U+007F");
  assertEquals(validateZnodePath("/a\u0085b"), "control or reserved character U+0085");
  assertEquals(validateZnodePath("/a\u009fb"), "control or reserved character U+009F");
  assertEquals(validateZnodePath("/a\ue000b"), "control or reserved character U+E000");
  assertEquals(validateZnodePath("/a\uf8ffb"), "control or reserved character U+F8FF");
  assertEquals(validateZnodePath("/a\ufff0b"), "control or reserved character U+FFF0");
  assertEquals(validateZnodePath("/a\uffffb"), "control or reserved character U+FFFF");
  assertEquals(validateZnodePath("/a\ud800b"), "control or reserved character U+D800");
  // Beyond the BMP a character is a surrogate pair, which ZooKeeper's UTF-16 check refuses.
  assertEquals(validateZnodePath("/a😀"), "control or reserved character U+1F600");
  // The neighbours of the refused ranges are fine.
  for (const path of ["/a\u0020", "/a\u007e", "/a\u00a0", "/a\ud7ff", "/a\uf900", "/a\uffef"]) {
    assertEquals(validateZnodePath(path), undefined, JSON.stringify(path));
  }
});

Deno.test("the /zookeeper subtree is reserved", () => {
  assertEquals(validateZnodePath("/zookeeper"), "the /zookeeper subtree is reserved");
  assertEquals(validateZnodePath("/zookeeper/x"), "the /zookeeper subtree is reserved");
  assertEquals(validateZnodePath("/zookeeper/quota/a"), "the /zookeeper subtree is reserved");
});

Deno.test("a znode path is at most 1024 UTF-8 bytes, a segment at most 255", () => {
  assertEquals(MAX_PATH_BYTES, 1024);
  assertEquals(MAX_SEGMENT_BYTES, 255);
  const segment = "s".repeat(254); // "/" + 254 = 255 bytes per segment
  const exactly1024 = `/${segment}`.repeat(4) + "/" + "t".repeat(3);
  assertEquals(new TextEncoder().encode(exactly1024).length, 1024);
  assertEquals(validateZnodePath(exactly1024), undefined);
  assertEquals(validateZnodePath(exactly1024 + "t"), "longer than 1024 bytes");

  assertEquals(validateZnodePath("/" + "a".repeat(255)), undefined);
  assertEquals(validateZnodePath("/" + "a".repeat(256)), "segment longer than 255 bytes");
  // Bytes, not characters: "é" is two bytes in UTF-8.
  assertEquals(validateZnodePath("/" + "é".repeat(128)), "segment longer than 255 bytes");
});

Deno.test("parentOf gives the enclosing path, the root for a top-level node", () => {
  assertEquals(parentOf("/a/b/c"), "/a/b");
  assertEquals(parentOf("/a"), "/");
  assertEquals(parentOf("/"), undefined);
});

Deno.test("ancestorsOf lists the nodes to create first, outermost first, root excluded", () => {
  assertEquals(ancestorsOf("/a/b/c"), ["/a", "/a/b"]);
  assertEquals(ancestorsOf("/a"), []);
  assertEquals(ancestorsOf("/cluster1/ch_http_node1/ch_http_service2"), [
    "/cluster1",
    "/cluster1/ch_http_node1",
  ]);
});

Deno.test("ZnodePathSchema accepts a valid path and reports the reason as its message", () => {
  assertEquals(v.parse(ZnodePathSchema, "/cluster1"), "/cluster1");
  const refused = v.safeParse(ZnodePathSchema, "/cluster1/../x");
  assert(!refused.success);
  assertEquals(refused.issues.map((issue) => issue.message), ["'.' or '..' segment"]);
  const notString = v.safeParse(ZnodePathSchema, 42);
  assert(!notString.success);
});
