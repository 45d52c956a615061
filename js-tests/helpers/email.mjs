// The email product as the loopback tests configure it: one sender, one-click unsubscribe links
// (with a fresh secrets key), node-postgres underneath; each test adds what it is about.
import { randomBytes } from "node:crypto";
import { betterEmail } from "@usebetterdev/email";
import { sqlEmailAdapter } from "@usebetterdev/email/sql";

/** Retries 50 ms apart, so a test sees a retry without waiting the real schedule. */
export const FAST_RETRIES = { retrySchedule: [0, 0.05, 0.05, 0.05] };

/** `betterEmail()` on `pool` with `transport`, and `extra` on top. */
export function testEmail(pool, transport, extra = {}) {
  return betterEmail({
    database: sqlEmailAdapter(pool),
    transport,
    from: "Acme <hello@acme.example>",
    unsubscribe: { baseUrl: "https://app.acme.example/email/u" },
    secretsKey: randomBytes(32).toString("base64"),
    ...extra,
  });
}

/** A message with every field an HTTP provider maps: names, cc, Reply-To with a comma, HTML,
 *  an unsubscribable category (so the list headers), a custom header, a tag, an attachment. */
export const RICH_MESSAGE = {
  to: { address: "jane@example.com", name: "Jane Doe" },
  cc: "cc@example.com",
  replyTo: "Support, Acme <support@acme.example>",
  html: "<p>Hi</p>",
  category: "notifications",
  headers: { "X-Campaign": "launch" },
  tags: { plan: "pro" },
  attachments: [{ filename: "a.bin", content: new Uint8Array([0, 1, 2, 255]), contentType: "application/octet-stream" }],
};
