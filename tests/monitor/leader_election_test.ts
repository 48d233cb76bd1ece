/**
 * The monitors' leader election (src/monitor/leader_election.ts) against a real ZooKeeper: a
 * candidate its own session left ahead of its candidate (a create whose answer was lost with its
 * connection: the server made the node, the retry made another) must not keep it from leading;
 * another session's candidate ahead of it still does.
 */
import { LocalZooKeeper } from "../../src/dev/local_zookeeper.ts";
import { LeaderElection, type Leadership } from "../../src/monitor/leader_election.ts";
import { connected } from "../../testing/session.ts";
import { withTimeout } from "../../testing/wait.ts";
import { assert, assertEquals } from "../../testing/assert.ts";

const text = new TextEncoder();
const PATH = "/cluster1-election";

/** Starts an election on `session` and resolves with its first leadership. */
async function firstLeadership(
  session: Awaited<ReturnType<typeof connected>>,
  id: string,
): Promise<{ election: LeaderElection; leadership: Leadership }> {
  const first = Promise.withResolvers<Leadership>();
  const election = new LeaderElection({ session, path: PATH, id, onChange: first.resolve });
  election.start();
  const leadership = await withTimeout(first.promise, 10_000, `${id}'s first leadership`);
  return { election, leadership };
}

Deno.test("election: a candidate of our own session ahead of ours (a lost create's) is removed, and we lead", async () => {
  await using zk = await LocalZooKeeper.start();
  await using session = await connected({ connectionString: zk.connectionString });
  await session.ensurePath(PATH);
  // What the server holds after a create whose answer was lost: a candidate of this session.
  const orphan = await session.create(`${PATH}/candidate-`, text.encode("m1"), {
    mode: "ephemeral_sequential",
  });
  const { election, leadership } = await firstLeadership(session, "m1");
  try {
    assertEquals(leadership.leader, true, `leads, not behind ${leadership.leaderNode}`);
    assert(!(await session.exists(orphan)), "the orphan candidate is gone");
    assertEquals((await session.getChildren(PATH)).children.length, 1);
  } finally {
    await election.stop();
  }
});

Deno.test("election: another session's candidate ahead of ours is kept, and we stand by", async () => {
  await using zk = await LocalZooKeeper.start();
  await using other = await connected({ connectionString: zk.connectionString });
  await using session = await connected({ connectionString: zk.connectionString });
  await other.ensurePath(PATH);
  const ahead = await other.create(`${PATH}/candidate-`, text.encode("m0"), {
    mode: "ephemeral_sequential",
  });
  const { election, leadership } = await firstLeadership(session, "m1");
  try {
    assertEquals(leadership.leader, false);
    assertEquals(leadership.leaderId, "m0");
    assert(await session.exists(ahead), "another monitor's candidate is not ours to remove");
  } finally {
    await election.stop();
  }
});
