/**
 * The driver's own writes to ZooKeeper during a chaos run: services it owns (persistent znodes,
 * created, changed to valid or invalid data, deleted, re-created with a new czxid), hostile
 * znodes (data no checker may take for `host:port`, huge data, XML metacharacters in names), and
 * new data for a client's service. One serial number names them all, in the order the schedule
 * asks, so a seed replays the same names.
 *
 * @module
 */
import type { ZkSession } from "../src/zookeeper/mod.ts";
import { pickIndex } from "./prng.ts";
import type { History } from "./history.ts";
import { KNOWN_END_POINTS, ROOT, type SlotService, UNKNOWN_END_POINT } from "./world.ts";

const MAX_STATIC = 10;
const MAX_HOSTILE = 12;
const MAX_HUGE = 2;

const text = new TextEncoder();

/** Data no checker may take for `host:port`. */
const INVALID_DATA: readonly (() => Uint8Array)[] = [
  () => text.encode("10.0.0.1:99999"),
  () => text.encode("10.0.0.1:0"),
  () => text.encode("just-a-host"),
  () => new Uint8Array(),
  () => Uint8Array.of(0xff, 0xfe, 0x3a, 0x31),
  () => text.encode("<host>evil</host>:1"),
  () => text.encode(" 127.0.0.1:80"),
  () => text.encode("127.0.0.1:080"),
  () => text.encode("256.1.1.1:80"),
];

/** Hostile znodes: where and with what. All invalid but the last two (XML metacharacters). */
const HOSTILE = [
  { name: "bad-port", endPoint: "ep1", data: () => text.encode("10.0.0.1:99999") },
  { name: "port-zero", endPoint: "ep1", data: () => text.encode("10.0.0.1:0") },
  { name: "no-port", endPoint: "ep2", data: () => text.encode("just-a-host") },
  { name: "empty", endPoint: "ep0", data: () => new Uint8Array() },
  { name: "not-utf8", endPoint: "ep0", data: () => Uint8Array.of(0xff, 0xfe, 0x3a, 0x31) },
  { name: "huge", endPoint: "ep2", data: () => new Uint8Array(1_000_000).fill(0x61) },
  { name: "xml-data", endPoint: "ep1", data: () => text.encode("<host>evil</host>:1") },
  { name: "space", endPoint: "ep0", data: () => text.encode(" 127.0.0.1:80") },
  { name: "leading-zero", endPoint: "ep2", data: () => text.encode("127.0.0.1:080") },
  { name: "bad-ipv4", endPoint: "ep1", data: () => text.encode("256.1.1.1:80") },
  // Valid, with XML metacharacters in the names: the proxy must hold these, escaped correctly.
  { name: `<&>"']]>`, endPoint: "ep2", data: (n: number) => text.encode(`127.0.0.1:${32000 + n}`) },
  {
    name: "svc",
    endPoint: KNOWN_END_POINTS[3],
    data: (n: number) => text.encode(`127.0.0.1:${33000 + n}`),
  },
] as const;

/** Owns a task of the schedule (awaited at the end, its failure recorded). */
export type Own = (kind: string, keys: readonly string[], promise: Promise<unknown>) => void;

/** The driver's writes of one run. */
export class ZnodeWrites {
  readonly #driver: ZkSession;
  readonly #history: History;
  readonly #own: Own;
  /** Services the driver owns (persistent znodes), path → key. */
  readonly #static = new Map<string, string>();
  /** Hostile znodes the driver wrote, path → key. */
  readonly #hostile = new Map<string, { key: string; huge: boolean }>();
  #serial = 0;

  constructor(driver: ZkSession, history: History, own: Own) {
    this.#driver = driver;
    this.#history = history;
    this.#own = own;
  }

  /** New (valid) data for a client's ephemeral service. */
  setClientData(service: SlotService): void {
    const kind = "zk.set-client-data";
    const data = `127.0.0.1:${30000 + this.#serial++}`;
    this.#history.record("op", kind, `${service.path} := ${data}`, [service.key]);
    this.#own(kind, [service.key], this.#driver.setData(service.path, text.encode(data)));
  }

  /** A service the driver owns: created, changed (valid or not), deleted or re-created. */
  staticStep(target: number, parameter: number): void {
    const driver = this.#driver;
    const paths = [...this.#static.keys()];
    const create = paths.length < 2 || (target < 0.35 && paths.length < MAX_STATIC);
    if (create) {
      const n = this.#serial++;
      const endPoint = parameter < 0.15
        ? UNKNOWN_END_POINT
        : KNOWN_END_POINTS[pickIndex((parameter * 5) % 1, KNOWN_END_POINTS.length)];
      const service = `st${n}`;
      const path = `${ROOT}/${endPoint}/${service}`;
      const data = n % 2 === 0 ? `ch-${n}.example.com:${31000 + n}` : `127.0.0.1:${31000 + n}`;
      const key = `${endPoint}/${service}`;
      this.#static.set(path, key);
      this.#history.record("op", "zk.static-create", `${path} = ${data}`, [key]);
      this.#own("zk.static-create", [key], driver.create(path, text.encode(data)));
      return;
    }
    const path = paths[pickIndex(parameter, paths.length)];
    const key = this.#static.get(path)!;
    const n = this.#serial++;
    if (target < 0.6) {
      const valid = ((parameter * 3) % 1) < 0.7;
      const data = valid
        ? text.encode(`127.0.0.1:${34000 + n}`)
        : INVALID_DATA[pickIndex((parameter * 11) % 1, INVALID_DATA.length)]();
      this.#history.record("op", "zk.static-set", `${path} := ${show(data)}`, [key]);
      this.#own("zk.static-set", [key], driver.setData(path, data));
    } else if (target < 0.8) {
      this.#static.delete(path);
      this.#history.record("op", "zk.static-delete", path, [key]);
      this.#own("zk.static-delete", [key], driver.delete(path));
    } else {
      this.#history.record("op", "zk.static-recreate", `${path} (new czxid, same data)`, [key]);
      this.#own(
        "zk.static-recreate",
        [key],
        (async () => {
          const { data } = await driver.getData(path);
          await driver.delete(path);
          await driver.create(path, data);
        })(),
      );
    }
  }

  /** A hostile znode written directly, or one of them deleted. */
  hostileStep(target: number, parameter: number): void {
    const driver = this.#driver;
    const existing = [...this.#hostile.keys()];
    if (existing.length > 0 && (parameter < 0.25 || existing.length >= MAX_HOSTILE)) {
      const path = existing[pickIndex((parameter * 4) % 1, existing.length)];
      const { key } = this.#hostile.get(path)!;
      this.#hostile.delete(path);
      this.#history.record("op", "zk.hostile-delete", path, [key]);
      this.#own("zk.hostile-delete", [key], driver.delete(path));
      return;
    }
    let hostile: (typeof HOSTILE)[number] = HOSTILE[pickIndex(target, HOSTILE.length)];
    const huge = [...this.#hostile.values()].filter((entry) => entry.huge).length;
    if (hostile.name === "huge" && huge >= MAX_HUGE) hostile = HOSTILE[0];
    const n = this.#serial++;
    const service = `h${n}-${hostile.name}`;
    const path = `${ROOT}/${hostile.endPoint}/${service}`;
    const key = `${hostile.endPoint}/${service}`;
    const data = hostile.data(n);
    this.#hostile.set(path, { key, huge: hostile.name === "huge" });
    this.#history.record("op", "zk.hostile-create", `${path} = ${show(data)}`, [key]);
    this.#own("zk.hostile-create", [key], driver.create(path, data));
  }
}

/** Data for the history: short, readable, never a megabyte. */
function show(data: Uint8Array): string {
  if (data.length > 64) return `<${data.length} bytes>`;
  try {
    return JSON.stringify(new TextDecoder("utf-8", { fatal: true }).decode(data));
  } catch {
    return `<bytes ${[...data].map((b) => b.toString(16).padStart(2, "0")).join(" ")}>`;
  }
}
