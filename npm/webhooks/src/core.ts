// The compiled configuration and what every part of the package needs around it: random bytes
// (the shared CSPRNG pool), and rows turned into the JSON the core reads.
import core, { type Webhooks as CoreWebhooks } from "@usebetter-rs/core/webhooks-binding";

export type { CoreWebhooks };
export { core };

/** `n` uniform draws in [−1, 1] (retry jitter). */
export function draws(n: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(Math.random() * 2 - 1);
  return out;
}

export { jsonRows, jsonValue, type Row } from "@usebetter-rs/core/db";
export { idBytes, randomBytes } from "@usebetter-rs/core/shared";
