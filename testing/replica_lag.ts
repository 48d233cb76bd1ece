/**
 * A ClickHouse replica made to lag for real, for health-check tests: two replicas of one
 * `ReplicatedMergeTree` table on one {@link LocalClickHouse} (started with a ZooKeeper). The second
 * replica's replication queue is stopped and a row is inserted on the first: the second then lags
 * by one more second every second, until its queue runs again.
 *
 * @example
 * ```ts
 * await using clickhouse = await LocalClickHouse.start({
 *   zookeeper: zk.connectionString,
 *   mergeTree: { min_absolute_delay_to_close: 1 },
 * });
 * const replicas = await ReplicaPair.create(clickhouse);
 * await replicas.fallBehind(); // /replicas_status lists the delay within about a second
 * await replicas.catchUp(); // and says `Ok.` again once the part is fetched
 * ```
 *
 * @module
 */
import type { LocalClickHouse } from "./local_clickhouse.ts";

/** Two replicas of one table on one server: `default.<name>_in_time` and `default.<name>_behind`. */
export class ReplicaPair {
  /** The replica that takes the inserts. */
  readonly inTime: string;
  /** The replica whose queue {@link fallBehind} stops. */
  readonly behind: string;
  readonly #clickhouse: LocalClickHouse;
  #rows = 0;

  private constructor(clickhouse: LocalClickHouse, name: string) {
    this.#clickhouse = clickhouse;
    this.inTime = `default.${name}_in_time`;
    this.behind = `default.${name}_behind`;
  }

  /**
   * Creates both replicas under a ZooKeeper path of their own (`/zkcm-test-clickhouse/<random>`),
   * so servers sharing a ZooKeeper never share a table.
   */
  static async create(clickhouse: LocalClickHouse, name = "events"): Promise<ReplicaPair> {
    if (!/^[a-z_]+$/.test(name)) throw new RangeError(`not a table name: ${name}`);
    const pair = new ReplicaPair(clickhouse, name);
    const zookeeperPath = `/zkcm-test-clickhouse/${crypto.randomUUID()}/${name}`;
    for (const [table, replica] of [[pair.inTime, "r1"], [pair.behind, "r2"]]) {
      await clickhouse.query(
        `CREATE TABLE ${table} (x UInt32) ` +
          `ENGINE = ReplicatedMergeTree('${zookeeperPath}', '${replica}') ORDER BY x`,
      );
    }
    return pair;
  }

  /**
   * Stops the lagging replica's replication queue (`SYSTEM STOP REPLICATION QUEUES`) and inserts a
   * row on the other: the part waits in the queue, and its insert time sets the delay. (`SYSTEM STOP
   * FETCHES` would do too, but a fetch it cancelled is retried only after a back-off of seconds.)
   */
  async fallBehind(): Promise<void> {
    await this.#clickhouse.query(`SYSTEM STOP REPLICATION QUEUES ${this.behind}`);
    this.#rows++;
    await this.#clickhouse.query(`INSERT INTO ${this.inTime} VALUES (${this.#rows})`);
  }

  /** Starts the lagging replica's queue again: it fetches the part within milliseconds. */
  async catchUp(): Promise<void> {
    await this.#clickhouse.query(`SYSTEM START REPLICATION QUEUES ${this.behind}`);
  }
}
