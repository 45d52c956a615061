// `@usebetterdev/email/ses`: the Amazon SES v2 transport over `fetch` (every runtime, no AWS SDK).
// It sends our MIME exactly (`Content.Raw`, the envelope's recipients as the destination), with
// `better_email_id` and the tenant as `EmailTags`; the core writes and SigV4-signs the request
// and judges the answer, this module resolves the credentials and performs the call. SES keeps
// no idempotency key: an answer lost after the request left is `ambiguous`.
import core, { type EmailAwsCredentials } from "@usebetter-rs/core/email-binding";
import { EmailConfigError, guard } from "../errors";
import { PROBE, fetchHandOff, rawOutgoing } from "../http";
import { rateOption, type HandOffResult, type PreparedMessage, type Transport } from "../types";

export type { EmailAwsCredentials as SesCredentials };

export interface SesOptions {
  /** The AWS region SES sends from (`eu-west-1`). */
  region: string;
  /** Static credentials, or a function the transport calls before each request (the
   *  application caches and refreshes them; the library fetches no instance metadata). */
  credentials: EmailAwsCredentials | (() => EmailAwsCredentials | Promise<EmailAwsCredentials>);
  /** Sent as `ConfigurationSetName` (where SES publishes the events). */
  configurationSetName?: string;
  /** Default `https://email.{region}.amazonaws.com` (a loopback fake in tests). */
  baseUrl?: string;
  /** Each request's limit (default 15000 ms). */
  timeoutMs?: number;
  /** Requests per second across every worker (the account's sending rate); unlimited when unset. */
  maxPerSecond?: number;
  name?: string;
}

const CHECK_CREDENTIALS: EmailAwsCredentials = { accessKeyId: "AKIDCHECK", secretAccessKey: "check" };

/** `ses({ region, credentials, configurationSetName?, baseUrl?, timeoutMs?, maxPerSecond? })`. */
export function ses(options: SesOptions): Transport {
  const { name = "ses", timeoutMs = 15_000, maxPerSecond, region, credentials, configurationSetName, baseUrl } = options ?? ({} as SesOptions);
  if (credentials === null || (typeof credentials !== "function" && typeof credentials !== "object")) {
    throw new EmailConfigError("EMAIL_INVALID_CONFIG", "ses(): invalid `credentials`: { accessKeyId, secretAccessKey, sessionToken? } or a function returning them");
  }
  const rate = rateOption("ses()", maxPerSecond);
  const opts = (c: EmailAwsCredentials) => ({
    region,
    credentials: c,
    nowMs: Date.now(),
    ...(configurationSetName !== undefined ? { configurationSetName } : {}),
    ...(baseUrl !== undefined ? { baseUrl } : {}),
  });
  // The region, the URL and static credentials are checked now, not at the first hand-off.
  guard(EmailConfigError, () => core.emailProviderRequest("ses", PROBE, opts(typeof credentials === "function" ? CHECK_CREDENTIALS : credentials)));
  // Only the three fields the signer takes: SDK providers add `expiration`, `accountId` and more.
  const resolve = async (): Promise<EmailAwsCredentials> => {
    const c = typeof credentials === "function" ? await credentials() : credentials;
    return { accessKeyId: c?.accessKeyId, secretAccessKey: c?.secretAccessKey, ...(c?.sessionToken ? { sessionToken: c.sessionToken } : {}) };
  };

  async function one(m: PreparedMessage, signal: AbortSignal): Promise<HandOffResult> {
    if (!m.outgoing) return { outcome: "rejected_permanent", detail: "ses: the message has no structured form (hand it over through the worker)" };
    let request, token;
    try {
      const c = await resolve();
      token = c.sessionToken;
      request = core.emailProviderRequest("ses", rawOutgoing(m.outgoing, m), opts(c));
    } catch (err) {
      // Nothing left: the credentials could not be had or are malformed, which another transport may not need.
      return { outcome: "auth_failed", detail: `ses: credentials: ${(err as Error)?.message ?? String(err)}` };
    }
    const r = await fetchHandOff("ses", request, signal, timeoutMs);
    // An error text that quotes the signed request must not store the session token.
    if (token && r.detail?.includes(token)) r.detail = r.detail.split(token).join("[session token]");
    return r;
  }

  return {
    name,
    kind: "ses",
    capabilities: { idempotency: false, batch: 1, rawMime: true, tags: true, edge: true },
    timeoutMs,
    ...rate,
    send: (batch: PreparedMessage[], signal: AbortSignal) => Promise.all(batch.map((m) => one(m, signal))),
  };
}
