import type { ErrorCode } from "@usebetter-rs/core";

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
