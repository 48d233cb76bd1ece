import { MetricsRegistry, PROMETHEUS_CONTENT_TYPE } from "../../src/shared/metrics.ts";
import { assertEquals, assertThrows } from "../../testing/assert.ts";

Deno.test("the content type is the text exposition format 0.0.4", () => {
  assertEquals(PROMETHEUS_CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8");
});

Deno.test("an empty registry renders nothing", () => {
  assertEquals(new MetricsRegistry().render(), "");
});

Deno.test("counters: without labels start at 0; with labels, escaped, in first-use order", () => {
  const metrics = new MetricsRegistry();
  const restarts = metrics.counter("zkcm_session_expired_total", "Sessions the server expired.");
  const deliveries = metrics.counter(
    "zkcm_deliveries_total",
    'Changes sent to a proxy.\nOne per "request", C:\\ path.',
    ["proxy", "operation"],
  );
  assertEquals(
    metrics.render(),
    "# HELP zkcm_session_expired_total Sessions the server expired.\n" +
      "# TYPE zkcm_session_expired_total counter\n" +
      "zkcm_session_expired_total 0\n" +
      '# HELP zkcm_deliveries_total Changes sent to a proxy.\\nOne per "request", C:\\\\ path.\n' +
      "# TYPE zkcm_deliveries_total counter\n",
  );

  restarts.inc();
  restarts.inc(2);
  deliveries.inc({ proxy: 'http://p/"a"\\b\nc', operation: "add" });
  deliveries.inc({ operation: "delete", proxy: "http://q/" }, 3);
  deliveries.inc({ proxy: 'http://p/"a"\\b\nc', operation: "add" }, 0.5);
  assertEquals(restarts.value(), 3);
  assertEquals(deliveries.value({ proxy: "http://q/", operation: "delete" }), 3);
  assertEquals(deliveries.value({ proxy: "http://none/", operation: "add" }), 0);
  assertEquals(
    metrics.render(),
    "# HELP zkcm_session_expired_total Sessions the server expired.\n" +
      "# TYPE zkcm_session_expired_total counter\n" +
      "zkcm_session_expired_total 3\n" +
      '# HELP zkcm_deliveries_total Changes sent to a proxy.\\nOne per "request", C:\\\\ path.\n' +
      "# TYPE zkcm_deliveries_total counter\n" +
      'zkcm_deliveries_total{proxy="http://p/\\"a\\"\\\\b\\nc",operation="add"} 1.5\n' +
      'zkcm_deliveries_total{proxy="http://q/",operation="delete"} 3\n',
  );
});

Deno.test("gauges: set, inc, dec, numbers as label values, remove", () => {
  const metrics = new MetricsRegistry();
  const connected = metrics.gauge("zkcm_zookeeper_connected", "1 while connected.");
  const pending = metrics.gauge("zkcm_pending_operations", "Per proxy.", ["proxy", "shard"]);
  connected.set(1);
  pending.set({ proxy: "a", shard: 1 }, 5);
  pending.inc({ proxy: "a", shard: 1 });
  pending.dec({ proxy: "a", shard: 1 }, 2);
  pending.set({ proxy: "b", shard: 2 }, -1.25);
  pending.set({ proxy: "c", shard: 3 }, Infinity);
  pending.remove({ proxy: "b", shard: 2 });
  assertEquals(pending.value({ proxy: "a", shard: 1 }), 4);
  assertEquals(
    metrics.render(),
    "# HELP zkcm_zookeeper_connected 1 while connected.\n" +
      "# TYPE zkcm_zookeeper_connected gauge\n" +
      "zkcm_zookeeper_connected 1\n" +
      "# HELP zkcm_pending_operations Per proxy.\n" +
      "# TYPE zkcm_pending_operations gauge\n" +
      'zkcm_pending_operations{proxy="a",shard="1"} 4\n' +
      'zkcm_pending_operations{proxy="c",shard="3"} +Inf\n',
  );
});

Deno.test("a collected gauge computes its value(s) at every scrape and cannot be set", () => {
  const metrics = new MetricsRegistry();
  let services = 2;
  metrics.gauge("zkcm_services", "Services in the mirror.", [], () => services);
  const perProxy = new Map([["http://p/", 1], ["http://q/", 0]]);
  const acknowledged = metrics.gauge(
    "zkcm_acknowledged_services",
    "Services each proxy acknowledged.",
    ["proxy"],
    () => [...perProxy].map(([proxy, value]) => ({ labels: { proxy }, value })),
  );
  const render = () =>
    "# HELP zkcm_services Services in the mirror.\n" +
    "# TYPE zkcm_services gauge\n" +
    `zkcm_services ${services}\n` +
    "# HELP zkcm_acknowledged_services Services each proxy acknowledged.\n" +
    "# TYPE zkcm_acknowledged_services gauge\n" +
    [...perProxy].map(([proxy, n]) => `zkcm_acknowledged_services{proxy="${proxy}"} ${n}\n`)
      .join("");
  assertEquals(metrics.render(), render());
  services = 7;
  perProxy.set("http://q/", 7);
  assertEquals(metrics.render(), render());
  assertEquals(acknowledged.value({ proxy: "http://q/" }), 7);
  assertThrows(() => acknowledged.set({ proxy: "x" }, 1), TypeError, "collect");
});

Deno.test("a collect callback that throws makes render throw", () => {
  const metrics = new MetricsRegistry();
  metrics.gauge("zkcm_broken", "Broken.", [], () => {
    throw new Error("mirror gone");
  });
  assertThrows(() => metrics.render(), Error, "mirror gone");
});

Deno.test("histograms: cumulative buckets with +Inf, _sum and _count, per label set", () => {
  const metrics = new MetricsRegistry();
  const latency = metrics.histogram("zkcm_delivery_seconds", "Proxy round trip.", [
    0.01,
    0.1,
    1,
  ], ["proxy"]);
  latency.observe({ proxy: "p" }, 0.005);
  latency.observe({ proxy: "p" }, 0.1); // on a bound: counted in that bucket (le)
  latency.observe({ proxy: "p" }, 0.5);
  latency.observe({ proxy: "p" }, 3);
  latency.observe({ proxy: 'q"' }, 0.02);
  assertEquals(
    metrics.render(),
    "# HELP zkcm_delivery_seconds Proxy round trip.\n" +
      "# TYPE zkcm_delivery_seconds histogram\n" +
      'zkcm_delivery_seconds_bucket{proxy="p",le="0.01"} 1\n' +
      'zkcm_delivery_seconds_bucket{proxy="p",le="0.1"} 2\n' +
      'zkcm_delivery_seconds_bucket{proxy="p",le="1"} 3\n' +
      'zkcm_delivery_seconds_bucket{proxy="p",le="+Inf"} 4\n' +
      'zkcm_delivery_seconds_sum{proxy="p"} 3.605\n' +
      'zkcm_delivery_seconds_count{proxy="p"} 4\n' +
      'zkcm_delivery_seconds_bucket{proxy="q\\"",le="0.01"} 0\n' +
      'zkcm_delivery_seconds_bucket{proxy="q\\"",le="0.1"} 1\n' +
      'zkcm_delivery_seconds_bucket{proxy="q\\"",le="1"} 1\n' +
      'zkcm_delivery_seconds_bucket{proxy="q\\"",le="+Inf"} 1\n' +
      'zkcm_delivery_seconds_sum{proxy="q\\""} 0.02\n' +
      'zkcm_delivery_seconds_count{proxy="q\\""} 1\n',
  );
});

Deno.test("a histogram without labels renders its empty buckets before any observation", () => {
  const metrics = new MetricsRegistry();
  const batch = metrics.histogram("zkcm_batch_size", "Changes per diff.", [1, 10, Infinity]);
  assertEquals(batch.buckets, [1, 10], "a trailing +Inf is implied");
  const empty = "# HELP zkcm_batch_size Changes per diff.\n" +
    "# TYPE zkcm_batch_size histogram\n" +
    'zkcm_batch_size_bucket{le="1"} 0\n' +
    'zkcm_batch_size_bucket{le="10"} 0\n' +
    'zkcm_batch_size_bucket{le="+Inf"} 0\n' +
    "zkcm_batch_size_sum 0\n" +
    "zkcm_batch_size_count 0\n";
  assertEquals(metrics.render(), empty);
  batch.observe(4);
  assertEquals(
    metrics.render(),
    empty.replace('"10"} 0', '"10"} 1').replace('"+Inf"} 0', '"+Inf"} 1')
      .replace("sum 0", "sum 4").replace("count 0", "count 1"),
  );
});

Deno.test("bad names, labels and values are programming errors that throw at once", () => {
  const metrics = new MetricsRegistry();
  for (const name of ["", "1abc", "zkcm-x", "zkcm x", "é"]) {
    assertThrows(() => metrics.counter(name, "h"), TypeError, "bad metric name");
  }
  for (const label of ["", "1a", "a-b", "__reserved"]) {
    assertThrows(() => metrics.gauge("zkcm_g", "h", [label]), TypeError, "bad label name");
  }
  assertThrows(() => metrics.histogram("zkcm_h", "h", [1], ["le"]), TypeError, "bad label name");
  assertThrows(() => metrics.counter("zkcm_c", "h", ["a", "a"]), TypeError, "duplicate label");
  assertThrows(() => metrics.histogram("zkcm_h", "h", [2, 1]), TypeError, "strictly increasing");
  assertThrows(() => metrics.histogram("zkcm_h", "h", [1, NaN]), TypeError, "finite");

  const c = metrics.counter("zkcm_c_total", "h", ["proxy"]);
  assertThrows(() => metrics.counter("zkcm_c_total", "again"), TypeError, "already registered");
  metrics.histogram("zkcm_latency", "h", [1]);
  assertThrows(() => metrics.counter("zkcm_latency_count", "h"), TypeError, "already registered");

  assertThrows(() => c.inc(), TypeError, "labels {} given, {proxy} expected");
  // @ts-expect-error: a label the counter does not have
  assertThrows(() => c.inc({ proxy: "p", extra: "x" }), TypeError, "expected");
  assertThrows(() => c.inc({ proxy: "p" }, -1), RangeError, "cannot add -1");
  assertThrows(() => c.inc({ proxy: "p" }, NaN), RangeError, "cannot add NaN");
  assertThrows(
    () => metrics.histogram("zkcm_h2", "h", [1]).observe(NaN),
    RangeError,
    "cannot observe NaN",
  );
});
