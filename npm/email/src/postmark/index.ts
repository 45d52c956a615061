// `@usebetterdev/email/postmark`: the Postmark transport over `fetch` (every runtime). The core
// writes the request (`better_email_id` and the tenant in `Metadata`, how events correlate; the
// category's message stream) and judges the answer by its `ErrorCode`; this module only performs
// the call. Postmark keeps no idempotency key: an answer lost after the request left is
// `ambiguous`, and `onAmbiguous` decides whether to send again.
import core from "@usebetter-rs/core/email-binding";
import { EmailConfigError, guard } from "../errors";
import { PROBE, sendEach } from "../http";
import { rateOption, type PreparedMessage, type Transport } from "../types";

export interface PostmarkOptions {
  serverToken: string;
  /** Default `https://api.postmarkapp.com` (a loopback fake in tests). */
  baseUrl?: string;
  /** The message stream per category (default `outbound`, Postmark's transactional stream). */
  messageStreams?: Record<string, string>;
  /** Each request's limit (default 15000 ms). */
  timeoutMs?: number;
  /** Requests per second across every worker; unlimited when unset. */
  maxPerSecond?: number;
  name?: string;
}

/** `postmark({ serverToken, baseUrl?, messageStreams?, timeoutMs?, maxPerSecond? })`. */
export function postmark(options: PostmarkOptions): Transport {
  if (typeof options?.serverToken !== "string" || options.serverToken.trim() === "") {
    throw new EmailConfigError("EMAIL_INVALID_CONFIG", "postmark(): invalid `serverToken`: the Postmark server API token");
  }
  const { name = "postmark", timeoutMs = 15_000, maxPerSecond, messageStreams = {}, serverToken, baseUrl } = options;
  for (const [category, stream] of Object.entries(messageStreams)) {
    if (typeof stream !== "string" || stream === "") throw new EmailConfigError("EMAIL_INVALID_CONFIG", `postmark(): invalid \`messageStreams.${category}\`: a message stream id`);
  }
  const rate = rateOption("postmark()", maxPerSecond);
  const opts = (category: string) => ({
    serverToken,
    ...(baseUrl !== undefined ? { baseUrl } : {}),
    ...(messageStreams[category] !== undefined ? { messageStream: messageStreams[category] } : {}),
  });
  // A bad `baseUrl` is refused here, when the transport is made, not at the first hand-off.
  guard(EmailConfigError, () => core.emailProviderRequest("postmark", PROBE, opts("")));
  return {
    name,
    kind: "postmark",
    capabilities: { idempotency: false, batch: 1, rawMime: false, tags: true, edge: true },
    timeoutMs,
    ...rate,
    send: (batch: PreparedMessage[], signal: AbortSignal) =>
      sendEach("postmark", batch, signal, timeoutMs, (outgoing, m) => core.emailProviderRequest("postmark", outgoing, opts(m.category))),
  };
}
