/** The tests' real ClickHouse (`testing/local_clickhouse.ts`): one server shared by the steps. */
import { assert, assertEquals, assertRejects } from "../../testing/assert.ts";
import { ClickHouseQueryError, LocalClickHouse } from "../../testing/local_clickhouse.ts";

async function refused(hostname: string, port: number): Promise<boolean> {
  try {
    const conn = await Deno.connect({ hostname, port });
    conn.close();
    return false;
  } catch (error) {
    if (error instanceof Deno.errors.ConnectionRefused) return true;
    throw error;
  }
}

Deno.test("a local ClickHouse", async (t) => {
  const clickhouse = await LocalClickHouse.start();
  try {
    await t.step("answers queries; refuses what ClickHouse refuses, naming the query", async () => {
      assertEquals(await clickhouse.query("SELECT 1"), "1\n");
      const error = await assertRejects(
        () => clickhouse.query("SELECT no_such_column"),
        ClickHouseQueryError,
        "Code: 47",
      );
      assertEquals(error.sql, "SELECT no_such_column");
    });

    await t.step("listens on 127.0.0.1 only", async () => {
      assert(!await refused("127.0.0.1", clickhouse.port), "127.0.0.1 accepts");
      assert(await refused("127.0.0.2", clickhouse.port), "another loopback address refuses");
    });

    await t.step("keeps its port and data across a stop and a restart", async () => {
      await clickhouse.query("CREATE TABLE kept (x UInt8) ENGINE = MergeTree ORDER BY x");
      await clickhouse.query("INSERT INTO kept VALUES (7)");
      assertEquals(await clickhouse.stop(), "stopped", "SIGTERM alone stopped it");
      assertEquals(clickhouse.running, false);
      assert(await refused("127.0.0.1", clickhouse.port), "stopped: refused");
      await clickhouse.restart();
      assertEquals(await clickhouse.query("SELECT x FROM kept"), "7\n");
    });
  } finally {
    await clickhouse.close();
  }
  assertEquals(clickhouse.running, false);
  await assertRejects(() => Deno.stat(clickhouse.directory), Deno.errors.NotFound);
});
