/**
 * A server closing the connection right after reading a request (how some servers refuse an
 * operation they lack) is told apart from other connection losses: only the last request
 * written, with nothing received since, fails with `ZkHungUpAfterRequestError`.
 */
import { LocalZooKeeper } from "../../src/dev/local_zookeeper.ts";
import { ZkConnectionLossError, ZkHungUpAfterRequestError } from "../../src/zookeeper/mod.ts";
import { Opcode, ZkProtocolProxy } from "../../testing/zk_protocol_proxy.ts";
import { connected } from "../../testing/session.ts";
import { assert, assertEquals } from "../../testing/assert.ts";

Deno.test("the last request written before the server hangs up fails as a hang-up, the others in flight as plain losses", async () => {
  await using zk = await LocalZooKeeper.start();
  await using proxy = await ZkProtocolProxy.start(
    { hostname: "127.0.0.1", port: zk.port },
    { hangUpOnceOn: [Opcode.getChildren2] },
  );
  await using session = await connected({ connectionString: proxy.address });
  // Written in one turn, so in one write: the proxy hangs up on reading the first.
  const [listed, read] = await Promise.allSettled([
    session.getChildren("/"),
    session.getData("/"),
  ]);
  assert(
    listed.status === "rejected" && read.status === "rejected",
    `both lost: ${Deno.inspect([listed, read])}`,
  );
  assert(listed.reason instanceof ZkConnectionLossError, `${listed.reason}`);
  assert(!(listed.reason instanceof ZkHungUpAfterRequestError), "not the last one written");
  assert(read.reason instanceof ZkHungUpAfterRequestError, `${read.reason}`);
  await session.waitUntilConnected({ timeoutMs: 10_000 });
  assertEquals((await session.getChildren("/")).children, ["zookeeper"]);
});

Deno.test("a lone request the server hangs up on fails as a hang-up", async () => {
  await using zk = await LocalZooKeeper.start();
  await using proxy = await ZkProtocolProxy.start(
    { hostname: "127.0.0.1", port: zk.port },
    { hangUpOnceOn: [Opcode.getData] },
  );
  await using session = await connected({ connectionString: proxy.address });
  const error = await session.getData("/").then(() => undefined, (error) => error);
  assert(error instanceof ZkHungUpAfterRequestError, `${error}`);
});
