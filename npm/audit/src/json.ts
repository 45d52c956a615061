// Entry values as JSON text. `JSON.stringify` throws on bigint (which node-postgres and
// Prisma hand out for int8) and on cycles; bigints are written as strings, as the database
// images hold them, and anything else unserialisable is named instead of a bare TypeError.

export class AuditDataError extends Error {
  readonly code = "AUDIT_INVALID_DATA";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "AuditDataError";
  }
}

const bigintAsString = (_key: string, v: unknown) => (typeof v === "bigint" ? v.toString() : v);

export function jsonText(value: unknown, what: string): string {
  try {
    return JSON.stringify(value);
  } catch {
    try {
      return JSON.stringify(value, bigintAsString);
    } catch (err) {
      throw new AuditDataError(`audit: \`${what}\` cannot be stored as JSON (${(err as Error).message})`, { cause: err });
    }
  }
}
