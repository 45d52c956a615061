// The compiled configuration and what every part of the package needs around it: random bytes
// from the runtime's CSPRNG, and rows turned into the JSON the core reads.
import core, { type Webhooks as CoreWebhooks } from "@usebetter-rs/core/webhooks-binding";

export type { CoreWebhooks };
export { core };

/** `n` random bytes (`crypto.getRandomValues`, available on Node ≥ 20 and edge runtimes). */
export function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  // getRandomValues fills at most 65536 bytes per call.
  for (let i = 0; i < n; i += 65536) crypto.getRandomValues(out.subarray(i, Math.min(n, i + 65536)));
  return out;
}

// Message ids take 10 random bytes each: drawn from the CSPRNG 4 KiB at a time, since one
// `getRandomValues` call per send cost more than the rest of the id.
const POOL = 4096;
let pool: Uint8Array = new Uint8Array(0);
let used = 0;

/** `n` random bytes for message ids, from a pool refilled by `getRandomValues`. */
export function idBytes(n: number): Uint8Array {
  if (n > POOL) return randomBytes(n);
  if (used + n > pool.length) {
    pool = randomBytes(POOL);
    used = 0;
  }
  used += n;
  return pool.subarray(used - n, used);
}

/** `n` uniform draws in [−1, 1] (retry jitter). */
export function draws(n: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(Math.random() * 2 - 1);
  return out;
}

export { jsonRows, jsonValue, type Row } from "@usebetter-rs/core/db";
