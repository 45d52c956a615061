// The framework-neutral part of `webhookReceiver()`: verify the raw bytes, run the handler (in
// the inbox's transaction when there is one) and decide the answer. Each framework's module
// only reads the raw body and writes the answer.
import { WebhooksConfigError, WebhookVerificationError, WebhooksError } from "../errors";
import { verifyBytes, type HeadersInput, type VerifiedWebhook, type VerifyOptions } from "./index";
import type { InboxExecutor, WebhooksInbox } from "./inbox";

export interface WebhookReceiverOptions<Tx extends InboxExecutor = InboxExecutor> {
  secret?: string;
  publicKey?: string;
  keys?: string[];
  toleranceSec?: number;
  /** `webhooksInbox(db)`: the handler runs once per `webhook-id`, in a transaction. */
  inbox?: WebhooksInbox<Tx>;
  /** Called with the verified delivery (and the inbox transaction). Throw to answer 500. */
  handler: (event: VerifiedWebhook, tx?: Tx) => unknown;
  /** A delivery the inbox has processed already (answered 200, handler not run). */
  onDuplicate?: (event: VerifiedWebhook, error: WebhookVerificationError) => unknown;
  /** The handler (or the inbox) failed; the answer is 500 so the sender retries. */
  onError?: (error: unknown, event: VerifiedWebhook) => unknown;
  /** Larger bodies are refused with 413 before verification (default 1 MiB). */
  maxBodyBytes?: number;
}

export interface ReceiverAnswer {
  status: number;
  body: Record<string, unknown>;
}

export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

function configError(message: string): WebhooksConfigError {
  return new WebhooksConfigError("WEBHOOKS_INVALID_CONFIG", message);
}

/** Checks the options once, when the middleware is built (fail-closed: no key, no receiver). */
export function checkReceiverOptions<Tx extends InboxExecutor>(opts: WebhookReceiverOptions<Tx>): void {
  if (typeof opts !== "object" || opts === null) throw configError("invalid `webhookReceiver` options: expected an object");
  if (typeof opts.handler !== "function") throw configError("invalid `handler`: expected a function (event, tx?) => …");
  if (opts.secret === undefined && opts.publicKey === undefined && (opts.keys === undefined || opts.keys.length === 0)) {
    throw configError("invalid `secret`: webhookReceiver needs `secret`, `publicKey` or `keys` to verify deliveries");
  }
  const max = opts.maxBodyBytes;
  if (max !== undefined && !(Number.isInteger(max) && max > 0)) throw configError("invalid `maxBodyBytes`: expected a positive integer");
}

export function tooLarge(max: number): ReceiverAnswer {
  return { status: 413, body: { error: { code: "WEBHOOKS_PAYLOAD_TOO_LARGE", message: `the body is larger than \`maxBodyBytes\` (${max})` } } };
}

/** Verifies and processes one delivery; never throws (every failure becomes an answer). */
export async function receive<Tx extends InboxExecutor>(
  opts: WebhookReceiverOptions<Tx>,
  body: Uint8Array,
  headers: HeadersInput,
): Promise<ReceiverAnswer> {
  if (body.byteLength > (opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES)) return tooLarge(opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES);
  const verify: VerifyOptions = {};
  if (opts.secret !== undefined) verify.secret = opts.secret;
  if (opts.publicKey !== undefined) verify.publicKey = opts.publicKey;
  if (opts.keys !== undefined) verify.keys = opts.keys;
  if (opts.toleranceSec !== undefined) verify.toleranceSec = opts.toleranceSec;
  let event: VerifiedWebhook;
  try {
    event = verifyBytes(body, headers, verify);
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    // A key we cannot parse is our configuration's fault, not the sender's: 500, not 401.
    const status = err instanceof WebhooksError && code !== "WEBHOOK_INVALID_KEY" && String(code).startsWith("WEBHOOK_") ? 401 : 500;
    return { status, body: { error: { code: typeof code === "string" ? code : "INTERNAL", message: (err as Error).message } } };
  }
  try {
    if (opts.inbox === undefined) {
      await opts.handler(event);
      return { status: 200, body: { ok: true } };
    }
    const handler = opts.handler;
    const result = await opts.inbox.process(event.id, async (tx) => {
      await handler(event, tx);
    });
    if (result === "duplicate") {
      const duplicate = new WebhookVerificationError(
        "WEBHOOK_DUPLICATE",
        `delivery \`webhook-id\` ${event.id} was processed already (inbox source ${opts.inbox.source})`,
      );
      await opts.onDuplicate?.(event, duplicate);
      return { status: 200, body: { ok: true, duplicate: true } };
    }
    return { status: 200, body: { ok: true } };
  } catch (err) {
    try {
      await opts.onError?.(err, event);
    } catch {
      // A failing reporter must not turn the 500 into something the sender does not retry.
    }
    return { status: 500, body: { error: { message: "the webhook handler failed; the delivery will be retried" } } };
  }
}
