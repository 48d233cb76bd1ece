/** Captures log records of one category while a test body runs. */
import { configure, type LogRecord, reset } from "@logtape/logtape";

/** Captures the records of `category` (default `["zkcm", "http"]`) while `use` runs. */
export async function withCapturedLogs(
  use: (records: LogRecord[]) => Promise<void>,
  category: string[] = ["zkcm", "http"],
): Promise<void> {
  const records: LogRecord[] = [];
  await configure({
    reset: true,
    sinks: { capture: (record) => records.push(record) },
    loggers: [
      { category, lowestLevel: "debug", sinks: ["capture"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: [] },
    ],
  });
  try {
    await use(records);
  } finally {
    await reset();
  }
}
