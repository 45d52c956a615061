import core from "@usebetter-rs/core";

/** The reference's cursor format, with microseconds when the timestamp is given as text. */
export function encodeCursor(timestamp: Date | string, id: string): string {
  return core.encodeCursor(timestamp instanceof Date ? timestamp.toISOString() : timestamp, id);
}

export function decodeCursor(cursor: string): { timestamp: Date; id: string } {
  const { timestamp, id } = core.decodeCursor(cursor);
  return { timestamp: new Date(timestamp), id };
}
