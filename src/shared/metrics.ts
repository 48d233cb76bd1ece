/**
 * A tiny Prometheus registry without dependencies: counters, gauges (set, or computed at scrape
 * time) and histograms, rendered in the text exposition format 0.0.4.
 *
 * Names and label names are checked when a metric is registered, and labels when a value is
 * recorded: a wrong one is a programming error and throws at once, rather than producing a scrape
 * Prometheus refuses. Metrics render in registration order, series in the order they first got a
 * value.
 *
 * @example
 * ```ts
 * const metrics = new MetricsRegistry();
 * const deliveries = metrics.counter("zkcm_deliveries_total", "Changes sent to a proxy.", [
 *   "proxy",
 *   "operation",
 * ]);
 * deliveries.inc({ proxy: "http://proxy:8080/updateService", operation: "add" });
 * metrics.gauge("zkcm_services", "Services in the mirror.", [], () => mirror.size);
 * new Response(metrics.render(), { headers: { "content-type": PROMETHEUS_CONTENT_TYPE } });
 * ```
 *
 * @module
 */

/** The `Content-Type` of {@link MetricsRegistry.render}'s text. */
export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** A series' label values by label name; numbers are written as text. */
export type Labels<L extends string = string> = { readonly [K in L]: string | number };

/** A value a gauge's `collect` callback computes at scrape time, for one series. */
export interface CollectedSample<L extends string = string> {
  /** The series' labels (`{}` for a gauge without labels). */
  labels: Labels<L>;
  /** Its value. */
  value: number;
}

/**
 * Computes a gauge's value(s) at scrape time: one number for a gauge without labels, or one
 * sample per series. It may throw; {@link MetricsRegistry.render} then throws too.
 */
export type GaugeCollect<L extends string = string> = () =>
  | number
  | Iterable<CollectedSample<L>>;

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/**
 * What every instrument has: a name, help, label names and series by their label values. Not
 * constructed directly: see {@link Counter}, {@link Gauge} and {@link Histogram}.
 */
export abstract class Metric<L extends string, Series> {
  /** The metric's name, e.g. `zkcm_deliveries_total`. */
  readonly name: string;
  /** The `# HELP` text. */
  readonly help: string;
  /** The label names every series has, in order. */
  readonly labelNames: readonly L[];
  /** The Prometheus metric type. */
  abstract readonly type: "counter" | "gauge" | "histogram";
  readonly #series = new Map<string, { labels: readonly string[]; series: Series }>();

  /** Checks the names; `reserved` label names are the subclass's own (a histogram's `le`). */
  constructor(name: string, help: string, labelNames: readonly L[], reserved: readonly string[]) {
    if (!METRIC_NAME.test(name)) throw new TypeError(`bad metric name ${JSON.stringify(name)}`);
    for (const label of labelNames) {
      if (!LABEL_NAME.test(label) || label.startsWith("__") || reserved.includes(label)) {
        throw new TypeError(`metric ${name}: bad label name ${JSON.stringify(label)}`);
      }
    }
    if (new Set(labelNames).size !== labelNames.length) {
      throw new TypeError(`metric ${name}: duplicate label name`);
    }
    this.name = name;
    this.help = help;
    this.labelNames = [...labelNames];
  }

  /** Forgets the series with these labels (a service that is gone); no-op when there is none. */
  remove(labels: Labels<L> = {} as Labels<L>): void {
    this.#series.delete(JSON.stringify(this.valuesOf(labels)));
  }

  /** Forgets every series. */
  reset(): void {
    this.#series.clear();
  }

  /** The series with these labels, created by `create` when it is the first value. */
  protected seriesFor(labels: Labels<L>, create: () => Series): Series {
    const values = this.valuesOf(labels);
    const key = JSON.stringify(values);
    let entry = this.#series.get(key);
    if (entry === undefined) {
      entry = { labels: values, series: create() };
      this.#series.set(key, entry);
    }
    return entry.series;
  }

  /** The existing series with these labels, if any. */
  protected existing(labels: Labels<L>): Series | undefined {
    return this.#series.get(JSON.stringify(this.valuesOf(labels)))?.series;
  }

  /** Every series with its label values, in the order they were created. */
  protected allSeries(): Iterable<{ labels: readonly string[]; series: Series }> {
    return this.#series.values();
  }

  /** The label values in label-name order; throws when a label is missing or unknown. */
  protected valuesOf(labels: Labels<L>): string[] {
    const given = Object.keys(labels);
    const unknown = given.filter((label) =>
      !(this.labelNames as readonly string[]).includes(label)
    );
    if (unknown.length > 0 || given.length !== this.labelNames.length) {
      throw new TypeError(
        `metric ${this.name}: labels {${given.join(", ")}} given, {${
          this.labelNames.join(", ")
        }} expected`,
      );
    }
    return this.labelNames.map((label) => String(labels[label]));
  }

  /** The `# HELP` and `# TYPE` lines. */
  protected header(): string {
    return `# HELP ${this.name} ${escapeHelp(this.help)}\n# TYPE ${this.name} ${this.type}\n`;
  }

  /** This metric's part of the exposition text. */
  abstract render(): string;
}

/** A value that only goes up (restarts aside): requests, errors, deliveries. */
export class Counter<L extends string = never> extends Metric<L, { value: number }> {
  /** Always `"counter"`. */
  readonly type = "counter";

  /** Use {@link MetricsRegistry.counter}. */
  constructor(name: string, help: string, labelNames: readonly L[] = []) {
    super(name, help, labelNames, []);
    if (labelNames.length === 0) this.seriesFor({} as Labels<L>, () => ({ value: 0 }));
  }

  /** Adds `by` (default 1) to the counter without labels. */
  inc(by?: number): void;
  /** Adds `by` (default 1) to the series with these labels. */
  inc(labels: Labels<L>, by?: number): void;
  inc(labelsOrBy?: Labels<L> | number, by = 1): void {
    const [labels, amount] = typeof labelsOrBy === "number"
      ? [{} as Labels<L>, labelsOrBy]
      : [labelsOrBy ?? {} as Labels<L>, by];
    if (!(amount >= 0) || amount === Infinity) {
      throw new RangeError(`counter ${this.name}: cannot add ${amount}`);
    }
    this.seriesFor(labels, () => ({ value: 0 })).value += amount;
  }

  /** The current value of a series (0 when it has none yet). */
  value(labels: Labels<L> = {} as Labels<L>): number {
    return this.existing(labels)?.value ?? 0;
  }

  /** This counter's part of the exposition text. */
  render(): string {
    let text = this.header();
    for (const { labels, series } of this.allSeries()) {
      text += sample(this.name, this.labelNames, labels, series.value);
    }
    return text;
  }
}

/** A value that goes up and down: services mirrored, queue length, connection state. */
export class Gauge<L extends string = never> extends Metric<L, { value: number }> {
  /** Always `"gauge"`. */
  readonly type = "gauge";
  readonly #collect?: GaugeCollect<L>;

  /** Use {@link MetricsRegistry.gauge}. */
  constructor(
    name: string,
    help: string,
    labelNames: readonly L[] = [],
    collect?: GaugeCollect<L>,
  ) {
    super(name, help, labelNames, []);
    this.#collect = collect;
    if (labelNames.length === 0 && collect === undefined) {
      this.seriesFor({} as Labels<L>, () => ({ value: 0 }));
    }
  }

  /** Sets the gauge without labels. */
  set(value: number): void;
  /** Sets the series with these labels. */
  set(labels: Labels<L>, value: number): void;
  set(labelsOrValue: Labels<L> | number, value?: number): void {
    const [labels, next] = typeof labelsOrValue === "number"
      ? [{} as Labels<L>, labelsOrValue]
      : [labelsOrValue, value!];
    this.#writable();
    this.seriesFor(labels, () => ({ value: 0 })).value = next;
  }

  /** Adds `by` (default 1; may be negative) to the gauge without labels. */
  inc(by?: number): void;
  /** Adds `by` (default 1; may be negative) to the series with these labels. */
  inc(labels: Labels<L>, by?: number): void;
  inc(labelsOrBy?: Labels<L> | number, by = 1): void {
    const [labels, amount] = typeof labelsOrBy === "number"
      ? [{} as Labels<L>, labelsOrBy]
      : [labelsOrBy ?? {} as Labels<L>, by];
    this.#writable();
    this.seriesFor(labels, () => ({ value: 0 })).value += amount;
  }

  /** Subtracts `by` (default 1) from the gauge without labels. */
  dec(by?: number): void;
  /** Subtracts `by` (default 1) from the series with these labels. */
  dec(labels: Labels<L>, by?: number): void;
  dec(labelsOrBy?: Labels<L> | number, by = 1): void {
    if (typeof labelsOrBy === "number") this.inc(-labelsOrBy);
    else this.inc(labelsOrBy ?? {} as Labels<L>, -by);
  }

  /** The current value of a series (0 when it has none yet; a collected gauge: collects). */
  value(labels: Labels<L> = {} as Labels<L>): number {
    if (this.#collect === undefined) return this.existing(labels)?.value ?? 0;
    const key = JSON.stringify(this.valuesOf(labels));
    for (const [values, value] of this.#collected()) {
      if (JSON.stringify(values) === key) return value;
    }
    return 0;
  }

  /** This gauge's part of the exposition text; a collected gauge calls its callback now. */
  render(): string {
    let text = this.header();
    const samples = this.#collect === undefined
      ? [...this.allSeries()].map(({ labels, series }) => [labels, series.value] as const)
      : this.#collected();
    for (const [labels, value] of samples) {
      text += sample(this.name, this.labelNames, labels, value);
    }
    return text;
  }

  #collected(): (readonly [readonly string[], number])[] {
    const result = this.#collect!();
    if (typeof result === "number") return [[this.valuesOf({} as Labels<L>), result]];
    return [...result].map(({ labels, value }) => [this.valuesOf(labels), value] as const);
  }

  #writable(): void {
    if (this.#collect !== undefined) {
      throw new TypeError(
        `gauge ${this.name} is computed by its collect callback; it cannot be set`,
      );
    }
  }
}

/**
 * A counter whose value(s) another component already keeps (the registrar's registrations, a
 * delivery queue's retries): read at scrape time, like a collected gauge, but typed `counter` so
 * `rate()` works on it. The callback must only ever return growing values.
 */
export class CollectedCounter<L extends string = never> extends Metric<L, { value: number }> {
  /** Always `"counter"`. */
  readonly type = "counter";
  readonly #collect: GaugeCollect<L>;

  /** Use {@link MetricsRegistry.collectedCounter}. */
  constructor(name: string, help: string, labelNames: readonly L[], collect: GaugeCollect<L>) {
    super(name, help, labelNames, []);
    this.#collect = collect;
  }

  /** This counter's part of the exposition text; calls its callback now. */
  render(): string {
    let text = this.header();
    const result = this.#collect();
    const samples = typeof result === "number"
      ? [{ labels: {} as Labels<L>, value: result }]
      : [...result];
    for (const { labels, value } of samples) {
      text += sample(this.name, this.labelNames, this.valuesOf(labels), value);
    }
    return text;
  }
}

/** One series of a {@link Histogram}. */
export interface HistogramSeries {
  /** Observations per bucket, not cumulative: `counts[i]` is for `buckets[i-1] < x <= buckets[i]`. */
  counts: number[];
  /** The sum of the values observed. */
  sum: number;
  /** How many values were observed. */
  count: number;
}

/** A distribution of observed values in fixed buckets: latencies, batch sizes. */
export class Histogram<L extends string = never> extends Metric<L, HistogramSeries> {
  /** Always `"histogram"`. */
  readonly type = "histogram";
  /** The upper bounds of the buckets, ascending, `+Inf` not included. */
  readonly buckets: readonly number[];

  /** Use {@link MetricsRegistry.histogram}. */
  constructor(
    name: string,
    help: string,
    buckets: readonly number[],
    labelNames: readonly L[] = [],
  ) {
    super(name, help, labelNames, ["le"]);
    const bounds = buckets.at(-1) === Infinity ? buckets.slice(0, -1) : [...buckets];
    bounds.forEach((bound, i) => {
      if (!Number.isFinite(bound) || (i > 0 && bound <= bounds[i - 1])) {
        throw new TypeError(`histogram ${name}: buckets must be finite and strictly increasing`);
      }
    });
    this.buckets = bounds;
    if (labelNames.length === 0) this.seriesFor({} as Labels<L>, () => this.#emptySeries());
  }

  /** Records one value in the histogram without labels. */
  observe(value: number): void;
  /** Records one value in the series with these labels. */
  observe(labels: Labels<L>, value: number): void;
  observe(labelsOrValue: Labels<L> | number, value?: number): void {
    const [labels, observed] = typeof labelsOrValue === "number"
      ? [{} as Labels<L>, labelsOrValue]
      : [labelsOrValue, value!];
    if (Number.isNaN(observed)) throw new RangeError(`histogram ${this.name}: cannot observe NaN`);
    const series = this.seriesFor(labels, () => this.#emptySeries());
    let bucket = this.buckets.findIndex((bound) => observed <= bound);
    if (bucket === -1) bucket = this.buckets.length;
    series.counts[bucket]++;
    series.sum += observed;
    series.count++;
  }

  /** This histogram's part of the exposition text: cumulative buckets, `_sum`, `_count`. */
  render(): string {
    let text = this.header();
    const names = [...this.labelNames, "le"];
    for (const { labels, series } of this.allSeries()) {
      let cumulative = 0;
      const bounds = [...this.buckets.map(formatNumber), "+Inf"];
      bounds.forEach((bound, i) => {
        cumulative += series.counts[i];
        text += sample(`${this.name}_bucket`, names, [...labels, bound], cumulative);
      });
      text += sample(`${this.name}_sum`, this.labelNames, labels, series.sum);
      text += sample(`${this.name}_count`, this.labelNames, labels, series.count);
    }
    return text;
  }

  #emptySeries(): HistogramSeries {
    return { counts: new Array(this.buckets.length + 1).fill(0), sum: 0, count: 0 };
  }
}

type AnyMetric = Counter<string> | CollectedCounter<string> | Gauge<string> | Histogram<string>;

/**
 * The metrics of one program. Register each metric once, at start-up; registering a name twice
 * throws.
 */
export class MetricsRegistry {
  readonly #metrics = new Map<string, AnyMetric>();

  /**
   * Registers a counter. By convention its name ends in `_total`.
   *
   * @throws TypeError for a bad or already registered name, or a bad label name
   */
  counter<L extends string = never>(
    name: string,
    help: string,
    labelNames: readonly L[] = [],
  ): Counter<L> {
    return this.#add(new Counter(name, help, labelNames));
  }

  /**
   * Registers a gauge. With `collect`, its value(s) are computed at each scrape instead of set:
   * the callback returns a number (no labels) or one sample per series.
   *
   * @throws TypeError for a bad or already registered name, or a bad label name
   *
   * @example
   * ```ts
   * metrics.gauge("zkcm_pending", "Pending operations per proxy.", ["proxy"], () =>
   *   proxies.map((proxy) => ({ labels: { proxy: proxy.url }, value: proxy.pending })));
   * ```
   */
  gauge<L extends string = never>(
    name: string,
    help: string,
    labelNames: readonly L[] = [],
    collect?: GaugeCollect<L>,
  ): Gauge<L> {
    return this.#add(new Gauge(name, help, labelNames, collect));
  }

  /**
   * Registers a counter read at scrape time from `collect` (see {@link CollectedCounter}).
   *
   * @throws TypeError for a bad or already registered name, or a bad label name
   */
  collectedCounter<L extends string = never>(
    name: string,
    help: string,
    labelNames: readonly L[],
    collect: GaugeCollect<L>,
  ): CollectedCounter<L> {
    return this.#add(new CollectedCounter(name, help, labelNames, collect));
  }

  /**
   * Registers a histogram with these bucket upper bounds (ascending; `+Inf` is implied).
   *
   * @throws TypeError for a bad or already registered name, a bad label name (`le` included) or
   *   buckets that are not finite and strictly increasing
   *
   * @example
   * ```ts
   * const latency = metrics.histogram("zkcm_delivery_seconds", "Proxy round trip.", [
   *   0.005, 0.01, 0.05, 0.1, 0.5, 1, 5,
   * ]);
   * latency.observe(0.042);
   * ```
   */
  histogram<L extends string = never>(
    name: string,
    help: string,
    buckets: readonly number[],
    labelNames: readonly L[] = [],
  ): Histogram<L> {
    return this.#add(new Histogram(name, help, buckets, labelNames));
  }

  /**
   * Every metric in the text exposition format 0.0.4 (serve it as
   * {@link PROMETHEUS_CONTENT_TYPE}); `""` when nothing is registered. Calls the gauges'
   * `collect` callbacks, and throws what they throw.
   */
  render(): string {
    let text = "";
    for (const metric of this.#metrics.values()) text += metric.render();
    return text;
  }

  #add<M extends AnyMetric>(metric: M): M {
    const suffixed = metric.type === "histogram"
      ? ["_bucket", "_sum", "_count"].map((suffix) => metric.name + suffix)
      : [];
    for (const name of [metric.name, ...suffixed]) {
      if (this.#metrics.has(name) || this.#clashes(name)) {
        throw new TypeError(`metric ${name} is already registered`);
      }
    }
    this.#metrics.set(metric.name, metric);
    return metric;
  }

  /** Whether `name` is one of the `_bucket`/`_sum`/`_count` series of a registered histogram. */
  #clashes(name: string): boolean {
    const base = /^(.*)_(?:bucket|sum|count)$/.exec(name)?.[1];
    return base !== undefined && this.#metrics.get(base)?.type === "histogram";
  }
}

function sample(
  name: string,
  labelNames: readonly string[],
  labelValues: readonly string[],
  value: number,
): string {
  if (labelNames.length === 0) return `${name} ${formatNumber(value)}\n`;
  const pairs = labelNames.map((label, i) => `${label}="${escapeLabelValue(labelValues[i])}"`);
  return `${name}{${pairs.join(",")}} ${formatNumber(value)}\n`;
}

function formatNumber(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}

/** Label values escape backslash, double quote and line feed. */
function escapeLabelValue(value: string): string {
  return value.replace(/[\\"\n]/g, (c) => (c === "\n" ? "\\n" : `\\${c}`));
}

/** `# HELP` text escapes backslash and line feed. */
function escapeHelp(help: string): string {
  return help.replace(/[\\\n]/g, (c) => (c === "\n" ? "\\n" : "\\\\"));
}
