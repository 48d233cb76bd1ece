/**
 * `MODE=monitor|client`: how the Docker image (the original tool's interface) picks its program.
 *
 * @module
 */

/** The programs `MODE` can name. */
export const MODES = ["monitor", "client"] as const;

/** A program `MODE` names. */
export type Mode = (typeof MODES)[number];

/** Reads `MODE`; a missing or unknown value is one line saying what is accepted. */
export function resolveMode(value: string | undefined): { mode: Mode } | { error: string } {
  const mode = value?.trim().toLowerCase();
  if (!mode) return { error: "MODE is not set: set MODE=monitor or MODE=client" };
  if ((MODES as readonly string[]).includes(mode)) return { mode: mode as Mode };
  return { error: `MODE ${JSON.stringify(value)} is not monitor or client` };
}
