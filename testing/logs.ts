/**
 * Captures LogTape records of one category while a test runs, and resets LogTape afterwards.
 *
 * @module
 */
import { configure, type LogLevel, type LogRecord, reset } from "@logtape/logtape";

/** Runs `use` with every record of `category` at `lowestLevel` or above collected in `records`. */
export async function withCapturedLogs(
  category: string[],
  lowestLevel: LogLevel,
  use: (records: LogRecord[]) => Promise<void>,
): Promise<void> {
  const records: LogRecord[] = [];
  await configure({
    reset: true,
    sinks: { capture: (record) => records.push(record) },
    loggers: [
      { category, lowestLevel, sinks: ["capture"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: [] },
    ],
  });
  try {
    await use(records);
  } finally {
    await reset();
  }
}
