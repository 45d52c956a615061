import type { ErrorCode } from "@usebetter-rs/core";

/** Codes of the webhooks product (`WEBHOOKS_*` for the sender, `WEBHOOK_*` for the receiver). */
export type WebhooksErrorCode = Extract<ErrorCode, `WEBHOOKS_${string}` | `WEBHOOK_${string}`> | "BINDING_LOAD_FAILED";

/** Base of the product's errors: a stable `code` and a message naming the field at fault. */
export class WebhooksError extends Error {
  readonly code: WebhooksErrorCode;
  constructor(code: WebhooksErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    // Bundlers may rename classes (esbuild appends a digit on a clash): subclasses set `name`.
    this.name = "WebhooksError";
  }
}
/** `betterWebhooks(config)` and the CLI's config. */
export class WebhooksConfigError extends WebhooksError {
  override readonly name: string = "WebhooksConfigError";
}
/** `send()` / `sendMany()`. */
export class WebhooksSendError extends WebhooksError {
  override readonly name: string = "WebhooksSendError";
}
/** Endpoint management, replay, recover, lanes. */
export class WebhooksEndpointError extends WebhooksError {
  override readonly name: string = "WebhooksEndpointError";
}
/** The receiver: `verifyWebhook` and `webhookReceiver`. */
export class WebhookVerificationError extends WebhooksError {
  override readonly name: string = "WebhookVerificationError";
}

type ErrorClass = new (code: WebhooksErrorCode, message: string, options?: { cause?: unknown }) => WebhooksError;

/**
 * Re-raises an error of the core as the product's class for `kind`, keeping code and message;
 * anything else (a database error, a bug) passes through unchanged.
 */
export function rethrow(err: unknown, kind: ErrorClass): never {
  const code = (err as { code?: unknown } | null)?.code;
  if (err instanceof WebhooksError || typeof code !== "string" || !/^WEBHOOKS?_/.test(code)) throw err;
  const fixed = code === "WEBHOOKS_INVALID_CONFIG" ? WebhooksConfigError : kind;
  throw new fixed(code as WebhooksErrorCode, (err as Error).message, { cause: err });
}

/** Runs `fn`, re-raising the core's errors as `kind`. */
export function guard<T>(kind: ErrorClass, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    rethrow(err, kind);
  }
}
