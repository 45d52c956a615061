// `@usebetterdev/email/mailgun`: the Mailgun transport over `fetch` (every runtime). It sends our
// MIME exactly (`/v3/{domain}/messages.mime`, one `to` per envelope recipient), with
// `v:better_email_id` and `v:tenant` as the user variables its events carry back. The core writes
// the form and judges the answer; this module only performs the call. Mailgun keeps no
// idempotency key: an answer lost after the request left is `ambiguous`.
import core from "@usebetter-rs/core/email-binding";
import { EmailConfigError, guard } from "../errors";
import { PROBE, rawOutgoing, sendEach } from "../http";
import { rateOption, type PreparedMessage, type Transport } from "../types";

export interface MailgunOptions {
  apiKey: string;
  /** The sending domain, as configured in Mailgun (`mg.acme.example`). */
  domain: string;
  /** Default `https://api.mailgun.net` (`https://api.eu.mailgun.net` for the EU region; a loopback fake in tests). */
  baseUrl?: string;
  /** Each request's limit (default 15000 ms). */
  timeoutMs?: number;
  /** Requests per second across every worker; unlimited when unset. */
  maxPerSecond?: number;
  name?: string;
}

/** `mailgun({ apiKey, domain, baseUrl?, timeoutMs?, maxPerSecond? })`. */
export function mailgun(options: MailgunOptions): Transport {
  if (typeof options?.apiKey !== "string" || options.apiKey.trim() === "") throw new EmailConfigError("EMAIL_INVALID_CONFIG", "mailgun(): invalid `apiKey`: the Mailgun API key");
  if (typeof options.domain !== "string") throw new EmailConfigError("EMAIL_INVALID_CONFIG", "mailgun(): invalid `domain`: the Mailgun sending domain, such as mg.acme.example");
  const { name = "mailgun", timeoutMs = 15_000, maxPerSecond, apiKey, domain, baseUrl } = options;
  const rate = rateOption("mailgun()", maxPerSecond);
  const opts = { apiKey, domain, ...(baseUrl !== undefined ? { baseUrl } : {}) };
  guard(EmailConfigError, () => core.emailProviderRequest("mailgun", PROBE, opts));
  return {
    name,
    kind: "mailgun",
    capabilities: { idempotency: false, batch: 1, rawMime: true, tags: true, edge: true },
    timeoutMs,
    ...rate,
    send: (batch: PreparedMessage[], signal: AbortSignal) =>
      sendEach("mailgun", batch, signal, timeoutMs, (outgoing, m) => core.emailProviderRequest("mailgun", rawOutgoing(outgoing, m), opts)),
  };
}
