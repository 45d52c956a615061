import core from "@usebetter-rs/core";

/** The instant `input` (`4h`, `30d`, `2w`, `3m`, `1y`) before `referenceDate`, in UTC. */
export function parseDuration(input: string, referenceDate: Date = new Date()): Date {
  return new Date(core.parseDuration(input, referenceDate.toISOString()));
}
