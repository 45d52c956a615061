import type { ErrorCode } from "@usebetter-rs/core/email-binding";

/** Codes of the email product. */
export type EmailErrorCode = Extract<ErrorCode, `EMAIL_${string}`> | "BINDING_LOAD_FAILED";

/** Base of the product's errors: a stable `code` and a message naming the field at fault. */
export class EmailError extends Error {
  readonly code: EmailErrorCode;
  constructor(code: EmailErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    // Bundlers may rename classes (esbuild appends a digit on a clash): subclasses set `name`.
    this.name = "EmailError";
  }
}
/** `betterEmail(config)` and transport options. */
export class EmailConfigError extends EmailError {
  override readonly name: string = "EmailConfigError";
}
/** Templates: not found, props refused, rendering failed. */
export class EmailTemplateError extends EmailError {
  override readonly name: string = "EmailTemplateError";
}

/** Runs a core call; its coded errors come out as `kind` (same code and message). */
export function guard<T>(kind: new (code: EmailErrorCode, message: string, options?: { cause?: unknown }) => EmailError, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    const e = err as { code?: unknown; message?: unknown };
    if (typeof e?.code === "string") throw new kind(e.code as EmailErrorCode, String(e.message), { cause: err });
    throw err;
  }
}
