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

/** `n` uniform draws in [−1, 1] (retry jitter). */
export function draws(n: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(Math.random() * 2 - 1);
  return out;
}

export { jsonRows, jsonValue, type Row } from "@usebetter-rs/core/db";
