// The compiled configuration and what every part of the package needs around it: random bytes
// from the runtime's CSPRNG, and rows turned into the JSON the core reads.
import core, { type Webhooks as CoreWebhooks } from "@usebetter-rs/core";

export type { CoreWebhooks };
export { core };

/** `n` random bytes (`crypto.getRandomValues`, available on Node ≥ 20 and edge runtimes). */
export function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  // getRandomValues fills at most 65536 bytes per call.
  for (let i = 0; i < n; i += 65536) crypto.getRandomValues(out.subarray(i, Math.min(n, i + 65536)));
  return out;
}

/** `n` uniform draws in [−1, 1] (retry jitter). */
export function draws(n: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(Math.random() * 2 - 1);
  return out;
}

function hex(b: Uint8Array): string {
  let s = "\\x";
  for (const x of b) s += x.toString(16).padStart(2, "0");
  return s;
}

/** A column value as JSON: dates as ISO text, bytes as `\x…` text, bigints as text. */
export function jsonValue(v: unknown): unknown {
  if (v instanceof Date) return v.toISOString();
  if (v instanceof Uint8Array) return hex(v);
  if (typeof v === "bigint") return v.toString();
  return v;
}

export type Row = Record<string, unknown>;

/** Rows with every column passed through {@link jsonValue}. */
export function jsonRows(rows: Row[]): Row[] {
  return rows.map((r) => {
    const o: Row = {};
    for (const k of Object.keys(r)) o[k] = jsonValue(r[k]);
    return o;
  });
}
