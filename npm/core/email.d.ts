// Declarations of the email entry points of the core: addresses, recipients and the MIME build.
// Values cross as JSON; attachment bytes cross as `contents`, one Uint8Array (or null) per
// attachment. Present on the native addon and the Node wasm; the edge module leaves them out
// (its size budget), so they are undefined there.

/** `"addr"`, `"Name <addr>"` or `{ address, name? }`. Domains must already be A-labels:
 *  convert with `new URL("http://" + domain).hostname`. */
export type EmailAddressInput = string | { address: string; name?: string | null };

/** A checked address. `key` (the whole address lowercased) is the suppression and
 *  de-duplication key. */
export interface EmailMailbox {
  address: string;
  name?: string;
  key: string;
}

/** The distinct recipients of a message, first occurrence kept (to, then cc, then bcc). */
export interface EmailRecipients {
  to: EmailMailbox[];
  cc: EmailMailbox[];
  bcc: EmailMailbox[];
}

/** `betterEmail` settings a build depends on. */
export interface EmailBuildOptions {
  /** Accept non-ASCII local parts (default false). */
  smtpUtf8?: boolean;
  /** Distinct to+cc+bcc (default 50). */
  maxRecipients?: number;
  /** Encoded size limit (default 10485760). */
  maxMessageBytes?: number;
}

/** One attachment: text `content`, or bytes at the same index of `contents`. A `contentId`
 *  makes it inline (`<img src="cid:…">`). */
export interface EmailAttachment {
  filename: string;
  /** `type/subtype` without parameters (default `application/octet-stream`). */
  contentType?: string | null;
  contentId?: string | null;
  content?: string | null;
}

/** Everything the bytes depend on; `messageId` and `dateMs` are fixed at enqueue, so every
 *  attempt builds the same bytes. */
export interface EmailMessage {
  from: EmailAddressInput;
  to?: EmailAddressInput | EmailAddressInput[] | null;
  cc?: EmailAddressInput | EmailAddressInput[] | null;
  /** Envelope only: never written into the headers. */
  bcc?: EmailAddressInput | EmailAddressInput[] | null;
  replyTo?: EmailAddressInput | EmailAddressInput[] | null;
  subject: string;
  text?: string | null;
  html?: string | null;
  /** `left@domain`, with or without angle brackets. */
  messageId: string;
  /** Milliseconds since 1970 (`Date.getTime()`). */
  dateMs: number;
  /** Custom headers; reserved names and CR/LF/NUL are refused (EMAIL_INVALID_HEADER). */
  headers?: Record<string, string> | null;
  attachments?: EmailAttachment[] | null;
  /** The whole List-Unsubscribe value: `<https://…>[, <mailto:…>]`. */
  listUnsubscribe?: string | null;
  /** Adds `List-Unsubscribe-Post: List-Unsubscribe=One-Click` (RFC 8058). */
  listUnsubscribePost?: boolean | null;
  /** Adds `List-Id: <listId>`. */
  listId?: string | null;
}

/** Parses one address; throws EMAIL_INVALID_ADDRESS naming `options.field` (default `address`). */
export declare function emailParseAddress(
  input: EmailAddressInput,
  options?: { smtpUtf8?: boolean; field?: string } | null,
): EmailMailbox;
/** Parses and de-duplicates recipients; EMAIL_TOO_MANY_RECIPIENTS over `maxRecipients`. */
export declare function emailRecipients(
  input: { to?: EmailMessage["to"]; cc?: EmailMessage["cc"]; bcc?: EmailMessage["bcc"] },
  options?: EmailBuildOptions | null,
): EmailRecipients;
/** The message's MIME bytes: CRLF lines of at most 998 octets, deterministic boundaries. */
export declare function emailBuildMessage(
  message: EmailMessage,
  options?: EmailBuildOptions | null,
  contents?: Array<Uint8Array | null | undefined> | null,
): Uint8Array;
/** The size `emailBuildMessage` would produce, after the same checks, without encoding the
 *  attachments; EMAIL_MESSAGE_TOO_LARGE over `maxMessageBytes`. */
export declare function emailMessageSize(
  message: EmailMessage,
  options?: EmailBuildOptions | null,
  contents?: Array<Uint8Array | null | undefined> | null,
): number;
