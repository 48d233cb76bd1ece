/**
 * Operator mistakes refused at start-up (issue 20): each one line naming the option, exit 2, and
 * nothing touched: the programs run as real processes against a listener that stands where
 * ZooKeeper would be and counts every connection attempt.
 */
import { loadMonitorConfig } from "../../src/monitor/config.ts";
import { loadClientConfig } from "../../src/client/config.ts";
import { MAX_ENTRIES, MAX_NODES_FILE_BYTES } from "../../src/client/registrations.ts";
import { redactUrl } from "../../src/monitor/proxy_url.ts";
import { Program } from "../../testing/program.ts";
import { assert, assertEquals, assertMatch } from "../../testing/assert.ts";

const SERVICE = "/cluster1/ch_http_node1/ch_http_service2";

async function monitorProblems(env: Record<string, string>): Promise<string[]> {
  const loaded = await loadMonitorConfig([], new Map(Object.entries(env)));
  return loaded.kind === "invalid" ? loaded.problems : [];
}

Deno.test("the same proxy twice is refused, however it is spelt", async () => {
  const spellings = [
    "http://p:8080/updateService,http://p:8080/updateService",
    "http://p:8080/updateService,http://p:8080/updateService/",
    "http://proxy/updateService,http://PROXY:80/updateService",
    "https://proxy:443/u,https://Proxy/u//",
  ];
  for (const urls of spellings) {
    const problems = await monitorProblems({ ASABRU_API_URL: urls });
    assertEquals(problems.length, 1, urls);
    assertMatch(
      problems[0],
      /^--asabru-url \(ASABRU_API_URL\): ".*" (is listed twice|is the same proxy as)/,
    );
  }
  // Different machines, ports, paths or schemes are different proxies; naming one machine two
  // ways is the operator's business.
  for (
    const urls of [
      "http://localhost:8080/u,http://127.0.0.1:8080/u",
      "http://p:8080/u,http://p:8081/u",
      "http://p:8080/u,http://p:8080/v",
      "http://p/u,https://p/u",
    ]
  ) {
    assertEquals(await monitorProblems({ ASABRU_API_URL: urls }), [], urls);
  }
});

Deno.test("credentials in the proxy URL are refused, and the password is never echoed", async () => {
  const problems = await monitorProblems({
    ASABRU_API_URL: "http://ops:s3cret-pw@p:8080/updateService,http://ops:s3cret-pw@p:8080/u/",
  });
  assertEquals(problems.length, 2);
  for (const line of problems) {
    assert(!line.includes("s3cret-pw"), line);
    assertMatch(line, /"http:\/\/ops:\*\*\*@p:8080\/.*" carries credentials/);
    assertMatch(line, /ASABRU_USERNAME and ASABRU_PASSWORD.*ASABRU_API_TOKEN/);
  }
  assertMatch(
    (await monitorProblems({ ASABRU_API_URL: "http://ops@p/u" }))[0],
    /carries credentials/,
  );
});

Deno.test("an election path inside the watched root (or around it) is refused", async () => {
  for (const electionPath of ["/cluster1/election", "/cluster1", "/"]) {
    const problems = await monitorProblems({
      ZK_ROOT_NODE: "/cluster1",
      ZK_ELECTION_PATH: electionPath,
    });
    if (electionPath === "/") {
      assertMatch(problems[0], /--election-path \(ZK_ELECTION_PATH\): .*is not a znode path/);
      continue;
    }
    assertEquals(problems.length, 1, electionPath);
    assertMatch(problems[0], /^--election-path \(ZK_ELECTION_PATH\): .*(inside|contains)/);
  }
  assertMatch(
    (await monitorProblems({ ZK_ROOT_NODE: "/a/cluster1", ZK_ELECTION_PATH: "/a" }))[0],
    /contains the watched root/,
  );
  assertEquals(
    await monitorProblems({ ZK_ROOT_NODE: "/cluster1", ZK_ELECTION_PATH: "/cluster1-election" }),
    [],
  );
  assertEquals(
    await monitorProblems({ ZK_ROOT_NODE: "/cluster1", ZK_ELECTION_PATH: "/cluster10" }),
    [],
  );
});

Deno.test("LOG_LEVEL in any case; ZK_AUTH says what is wrong; ZK_SESSION_TIMEOUT has a floor", async () => {
  const loaded = await loadMonitorConfig([], new Map([["LOG_LEVEL", "DEBUG"]]));
  assertEquals(loaded.kind === "run" && loaded.options.logLevel, "debug");
  const auth: [string, RegExp][] = [
    [":", /the user before ':' is empty/],
    ["user:", /the password after ':' is empty/],
    ["userpass", /there is no ':' between user and password/],
    ["us er:pw", /contains whitespace/],
  ];
  for (const [value, reason] of auth) {
    const [line] = await monitorProblems({ ZK_AUTH: value });
    assertMatch(line, /^--zk-auth \(ZK_AUTH\): value \(hidden\) is not user:password: /);
    assertMatch(line, reason);
  }
  assertEquals(await monitorProblems({ ZK_AUTH: "user:pa:ss" }), []);
  for (const value of ["1ms", "999ms", "0.5s"]) {
    const [line] = await monitorProblems({ ZK_SESSION_TIMEOUT: value });
    assertMatch(line, /^--session-timeout \(ZK_SESSION_TIMEOUT\): ".*" is below 1s: /);
  }
  assertEquals(await monitorProblems({ ZK_SESSION_TIMEOUT: "1s" }), []);
});

Deno.test("refused at start: one line, exit 2 (1 for a port taken), no connection to ZooKeeper", async (t) => {
  using zookeeper = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 }); // STATUS_PORT in use
  let connections = 0;
  const accepting = (async () => {
    for await (const connection of zookeeper) {
      connections++;
      connection.close();
    }
  })().catch(() => {});
  const zkHost = `127.0.0.1:${zookeeper.addr.port}`;
  const dir = await Deno.makeTempDir({ prefix: "zkcm-refusals-" });
  try {
    const duplicated = `${dir}/duplicated.json`;
    await Deno.writeTextFile(duplicated, `{"${SERVICE}": "a:1", "${SERVICE}": "b:2"}`);
    const tooMany = `${dir}/too-many.json`;
    const entries: Record<string, string> = {};
    for (let i = 0; i <= MAX_ENTRIES; i++) entries[`/c/n/s${i}`] = `h:${1 + (i % 60_000)}`;
    await Deno.writeTextFile(tooMany, JSON.stringify(entries));
    const tooBig = `${dir}/too-big.json`;
    await Deno.writeFile(tooBig, new Uint8Array());
    await Deno.truncate(tooBig, MAX_NODES_FILE_BYTES + 1); // sparse: costs no disk
    const cases: {
      name: string;
      program: "monitor" | "client";
      env: Record<string, string>;
      expect?: RegExp;
      code?: number;
    }[] = [
      {
        name: "nodes.json: a path listed twice",
        program: "client",
        env: { NODES_FILE: duplicated, REGISTER: "" },
        expect: /listed twice/,
      },
      {
        name: "nodes.json: more entries than the limit",
        program: "client",
        env: { NODES_FILE: tooMany, REGISTER: "" },
        expect: /has 100001 entries, more than one client registers \(at most 100000\)/,
      },
      {
        name: "nodes.json: larger than the limit",
        program: "client",
        env: { NODES_FILE: tooBig, REGISTER: "" },
        expect: /more than the limit of 33554432 \(32 MiB\)/,
      },
      {
        name: "STATUS_PORT taken: the client",
        program: "client",
        env: { STATUS_PORT: String(taken.addr.port), STATUS_HOST: "127.0.0.1" },
        expect: new RegExp(
          `^zk-client: --status-port \\(STATUS_PORT\\): cannot listen on 127\\.0\\.0\\.1:${taken.addr.port}: the port is already in use$`,
        ),
        code: 1,
      },
      {
        name: "STATUS_PORT taken: the monitor",
        program: "monitor",
        env: { STATUS_PORT: String(taken.addr.port), STATUS_HOST: "127.0.0.1" },
        expect: new RegExp(
          `^zk-monitor: --status-port .*:${taken.addr.port}: the port is already in use$`,
        ),
        code: 1,
      },
      {
        name: "the same proxy twice",
        program: "monitor",
        env: { ASABRU_API_URL: "http://p:8080/updateService,http://P:8080/updateService/" },
      },
      {
        name: "credentials in the proxy URL",
        program: "monitor",
        env: { ASABRU_API_URL: "http://ops:s3cret-pw@p:8080/updateService" },
      },
      {
        name: "election path in the root",
        program: "monitor",
        env: { ZK_ELECTION_PATH: "/cluster1/e" },
      },
      { name: "ZK_AUTH=:", program: "monitor", env: { ZK_AUTH: ":" } },
      { name: "ZK_SESSION_TIMEOUT=1ms", program: "client", env: { ZK_SESSION_TIMEOUT: "1ms" } },
    ];
    for (const testCase of cases) {
      await t.step(testCase.name, async () => {
        const program = await Program.start(`${testCase.program}.ts`, {
          task: testCase.program,
          env: { ZK_HOST: zkHost, REGISTER: `${SERVICE}=localhost:2023`, ...testCase.env },
        });
        const { code, lines } = await program.finished();
        const printed = lines.filter((line) => line.trim() !== "");
        assertEquals(code, testCase.code ?? 2, printed.join(" | "));
        assertEquals(printed.length, 1, printed.join(" | "));
        if (testCase.expect) assertMatch(printed[0], testCase.expect);
        assert(!printed[0].includes("s3cret-pw"), printed[0]);
        assertEquals(connections, 0, "no connection to ZooKeeper");
      });
    }
  } finally {
    zookeeper.close();
    await accepting;
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the client: LOG_LEVEL=DEBUG and a valid ZK_AUTH are taken", async () => {
  const loaded = await loadClientConfig(
    [],
    new Map([["LOG_LEVEL", "Debug"], ["REGISTER", `${SERVICE}=localhost:2023`]]),
  );
  assertEquals(loaded.kind === "run" && loaded.config.options.logLevel, "debug");
});

Deno.test("the client: a path in both REGISTER and nodes.json with other data is refused", async () => {
  const dir = await Deno.makeTempDir({ prefix: "zkcm-refusals-" });
  try {
    const file = `${dir}/nodes.json`;
    await Deno.writeTextFile(file, JSON.stringify({ [SERVICE]: "other:1" }));
    const env = (data: string) =>
      new Map([["REGISTER", `${SERVICE}=${data}`], ["NODES_FILE", file]]);
    const conflicting = await loadClientConfig([], env("localhost:2023"));
    assertEquals(conflicting.kind === "invalid" && conflicting.problems, [
      `--register (REGISTER): "${SERVICE}": is in nodes.json too, with other data: list it once`,
    ]);
    assertEquals((await loadClientConfig([], env("other:1"))).kind, "run");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("redactUrl hides every password in a line, and only the password", () => {
  assertEquals(
    redactUrl("to [http://ops:s3cret@p:8080/u, https://x:y@q/u, http://p/u, http://ops@p/u]"),
    "to [http://ops:***@p:8080/u, https://x:***@q/u, http://p/u, http://ops:***@p/u]",
  );
  assertEquals(redactUrl("HTTP://a:b:c@p/"), "HTTP://a:***@p/");
});
