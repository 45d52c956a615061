// The product's public types (spec: sending input and results, transports and what they hand
// back). The core validates every value at run time; these types make the mistakes the compiler
// can see fail to compile.
import type { EmailEvent, EmailOutgoing, SmtpHandOff } from "@usebetter-rs/core/email-binding";
import { EmailConfigError } from "./errors";

export type Address = string | { address: string; name?: string };

/** Why an address is suppressed. */
export type SuppressionReason = "hard_bounce" | "complaint" | "soft_bounce" | "unsubscribe" | "manual";

/** The fields of a message besides its content. */
export interface SendFields {
  to: Address | Address[];
  cc?: Address | Address[];
  bcc?: Address | Address[];
  /** Defaults to the configured `from`. */
  from?: Address;
  replyTo?: Address | Address[];
  /** Default: the template's, else `"transactional"`. */
  category?: string;
  locale?: string;
  /** Validated; reserved headers (From, Subject, Content-*, List-Unsubscribe…) are refused. */
  headers?: Record<string, string>;
  attachments?: { filename: string; content: Uint8Array | string; contentType?: string; contentId?: string }[];
  /** At most 10, names and values of `[A-Za-z0-9_-]{1,64}`. */
  tags?: Record<string, string>;
  /** At most 255 characters; a second send with the same key (and request) is a `duplicate`. */
  idempotencyKey?: string;
  /** At most 30 days ahead. */
  sendAt?: Date;
  /** Default per category; `null`: never expires. */
  expiresAt?: Date | null;
  priority?: "high" | "normal" | "low";
}

/** The content: a registered template with its props, or a subject and at least one body. */
export type SendContent<T> =
  | { [K in keyof T & string]: { template: K; props: T[K]; subject?: never; html?: never; text?: never } }[keyof T & string]
  | { template?: never; props?: never; subject: string; html?: string; text?: string };

/** One message for `send()`: `T` maps template names to their props. */
export type SendInput<T = Record<string, unknown>> = SendFields & SendContent<T>;

export interface SendResult {
  id: `eml_${string}`;
  status: "queued" | "duplicate" | "suppressed";
  suppressed: { address: string; reason: SuppressionReason }[];
}

/** What a transport is asked to deliver: the message as the core built it. */
export interface PreparedMessage {
  /** `eml_…` */
  id: string;
  tenantId: string | null;
  category: string;
  /** Envelope sender (MAIL FROM / the provider's `from`). */
  from: string;
  /** Envelope recipients: to, cc and bcc, suppressed ones removed. */
  recipients: string[];
  subject: string;
  html?: string;
  text?: string;
  /** The exact MIME bytes (what SMTP sends and raw-MIME providers take); empty when no
   *  configured transport declares `capabilities.rawMime`. */
  raw: Uint8Array;
  /** `Message-ID` without angle brackets. */
  messageId: string;
  /** Sent as the provider's idempotency key where it has one: retries never send twice. */
  idempotencyKey: string;
  attempt: number;
  tags?: Record<string, string>;
  /** The same message as JSON providers take it (what HTTP transports hand the core). */
  outgoing?: EmailOutgoing;
}

/** A hand-off outcome (data in `email_attempts`, never an exception): the core's judgement of a
 *  transport's answer, plus the two the worker decides before any hand-off. */
export type HandOffOutcome = SmtpHandOff | "expired" | "suppressed";

export interface RecipientResult {
  address: string;
  accepted: boolean;
  code?: number;
  enhancedCode?: string;
  text?: string;
}

export interface HandOffResult {
  outcome: HandOffOutcome;
  providerMessageId?: string;
  /** HTTP status or SMTP reply code. */
  status?: number;
  /** Provider text (never shown to tenants unredacted). */
  detail?: string;
  /** From `Retry-After` or the provider's throttling answer. */
  retryAfterMs?: number;
  /** Per recipient, where the transport knows (SMTP RCPT replies, batch answers). */
  recipients?: RecipientResult[];
  /** The member of a `failover()` that gave this answer. */
  transport?: string;
  /** The members a `failover()` tried first in this attempt, which did not take the message. */
  tried?: TriedTransport[];
}

/** One transport a `failover()` tried before the one that answered; recorded as its own attempt row. */
export interface TriedTransport {
  transport: string;
  outcome: Exclude<HandOffOutcome, "expired" | "suppressed">;
  status?: number;
  detail?: string;
  startedAtMs: number;
  durationMs: number;
}

export type TransportKind = "resend" | "postmark" | "ses" | "sendgrid" | "mailgun" | "smtp" | "console" | "file" | "capture";

export interface Transport {
  name: string;
  kind: TransportKind;
  capabilities: { idempotency: boolean; batch: number; rawMime: boolean; tags: boolean; edge: boolean };
  /** How long one hand-off may take (the worker's lease is this plus 30 s). */
  timeoutMs?: number;
  /** The provider's request rate, shared by every worker (spec §12): hand-offs at most this many per second. */
  maxPerSecond?: number;
  /**
   * Hands `batch` off (one message, or up to `capabilities.batch` in one request); one result
   * per message, in order. A transport that sends several in one request calls `mark` with the
   * request's idempotency key before sending it, and sends nothing if `mark` resolves false.
   */
  send(batch: PreparedMessage[], signal: AbortSignal, mark?: (key: string) => Promise<boolean>): Promise<HandOffResult[]>;
  /** The transports a `failover()` is made of. */
  members?: readonly Transport[];
}

/**
 * What `onEvent` hears: each provider event as normalized (with its `provider`), a message left
 * `ambiguous` for an operator (`onAmbiguous: "hold"`), and a transport refusing our credentials.
 */
export type EmailHookEvent =
  | (EmailEvent & { provider: string })
  | { type: "message.ambiguous"; id: string; tenantId: string | null; transport: string | null; detail: string | null }
  | { type: "transport.down"; transport: string; status: number | null; detail: string | null }
  /** The worker could not write the audit entries of these messages' final outcomes (their record stands). */
  | { type: "audit.failed"; ids: string[]; detail: string };

/** `maxPerSecond` of a transport's options, checked (`owner` names the factory in the error). */
export function rateOption(owner: string, value: unknown): { maxPerSecond?: number } {
  if (value === undefined) return {};
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0 || value > 10_000) {
    throw new EmailConfigError("EMAIL_INVALID_CONFIG", `${owner}: invalid \`maxPerSecond\`: expected a number of requests per second above 0 (at most 10000)`);
  }
  return { maxPerSecond: value };
}

/** Calls `onEvent` without letting its failure reach the caller (a hook never stops delivery). */
export function hook(onEvent: ((e: EmailHookEvent) => unknown) | undefined, e: EmailHookEvent): void {
  if (!onEvent) return;
  try {
    const out = onEvent(e) as { catch?: (f: (err: unknown) => void) => void } | undefined;
    out?.catch?.((err) => console.warn(`better-email: onEvent failed for ${e.type}: ${String(err)}`));
  } catch (err) {
    console.warn(`better-email: onEvent failed for ${e.type}: ${String(err)}`);
  }
}
