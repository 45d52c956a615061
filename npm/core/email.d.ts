// Declarations of the email entry points of the core. Values cross as JSON; clocks and random
// bytes come from the caller; attachment bytes cross as `contents`, one Uint8Array (or null) per
// attachment. Present on the native addon and the Node wasm; the edge module leaves them out
// (its size budget), so they are undefined there.

import type { SmtpHandOff } from "./index";

/** A request to sign with AWS Signature Version 4 (SES v2). */
export interface EmailSigV4Request {
  method: string;
  /** `host[:port]` as sent. */
  host: string;
  /** The path as sent, percent-encoded. */
  path: string;
  /** Query parameters, decoded. */
  query?: Array<[string, string]>;
  /** Headers to sign and send (not `host`, `authorization`, `x-amz-date`, `x-amz-security-token`). */
  headers?: Array<[string, string]>;
  body?: string;
  region: string;
  service: string;
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string | null;
  nowMs: number;
}

export interface EmailSigV4Signed {
  /** Headers to add: `x-amz-date`, `x-amz-security-token` (with a session token), `authorization`. */
  headers: Array<[string, string]>;
  authorization: string;
  amzDate: string;
  signedHeaders: string;
  canonicalRequest: string;
  canonicalRequestHash: string;
  stringToSign: string;
  signature: string;
}

export type EmailEventProvider = "resend" | "sendgrid" | "mailgun" | "postmark" | "ses";

/** The provider's endpoint configuration and the clock; only the provider's own fields are read. */
export interface EmailEventOptions {
  /** Resend: `whsec_…`. */
  secret?: string;
  /** SendGrid: the verification key, base64 SPKI. */
  publicKey?: string;
  /** Mailgun: the HTTP webhook signing key. */
  signingKey?: string;
  /** Postmark: the Basic credentials of the webhook URL. */
  username?: string;
  password?: string;
  /** SES: the SNS topics events may come from. */
  topicArns?: string[];
  allowSignatureV1?: boolean;
  /** SES: host patterns of `SigningCertURL` (`*` = one DNS label); default `sns.*.amazonaws.com`, `sns.*.amazonaws.com.cn`. */
  certHosts?: string[];
  /** SES: accepted certificate common names; default `sns.amazonaws.com` and the host patterns. */
  certSubjects?: string[];
  /** SES: the PEM fetched from `SigningCertURL`. */
  certificate?: string;
  /** SES: a CA (certificate or public key, PEM) that must have signed the certificate. */
  trustedCa?: string;
  toleranceSec?: number;
  /** Unix seconds. */
  now: number;
}

export interface EmailVerifiedEvent {
  provider: EmailEventProvider;
  /** `svix-id`, Mailgun `token`, SNS `MessageId`; null where the provider keys each event in the body. */
  id: string | null;
  timestamp: number | null;
  snsType: "Notification" | "SubscriptionConfirmation" | "UnsubscribeConfirmation" | null;
  topicArn: string | null;
  /** SNS confirmations: the checked URL to fetch. */
  subscribeUrl: string | null;
}

/** `tokenKey`: 32 bytes base64, or `{ current, previous? }` during a key change. */
export type EmailTokenKey = string | { current: string; previous?: string | null };

export interface EmailUnsubscribeFields {
  tenantId?: string | null;
  /** The suppression matching key of the recipient. */
  address: string;
  category: string;
  messageId?: string | null;
  /** Unix seconds. */
  issuedAt: number;
}

export interface EmailDkimOptions {
  domain: string;
  selector: string;
  /** PEM: RSA (PKCS#8 or PKCS#1) or ed25519 (PKCS#8). */
  privateKey: string;
  /** `t=`, Unix seconds. */
  timestamp?: number | null;
}

/** SigV4-signs a request; throws `EMAIL_INVALID_ARGUMENT` naming the field. */
export declare function emailSigV4(request: EmailSigV4Request): EmailSigV4Signed;
/** Verifies a provider event request; throws `EMAIL_EVENT_*` or `EMAIL_INVALID_CONFIG`. */
export declare function emailVerifyEvent(
  provider: EmailEventProvider,
  headers: Array<[string, string]>,
  body: Uint8Array,
  options: EmailEventOptions,
): EmailVerifiedEvent;
/** The SNS certificate URL to fetch, after the version, topic and URL checks. */
export declare function emailSnsCertUrl(body: Uint8Array, options: EmailEventOptions): string;
/** `u1.…`; `nonce`: 24 random bytes. */
export declare function emailUnsubscribeToken(tokenKey: EmailTokenKey, fields: EmailUnsubscribeFields, nonce: Uint8Array): string;
/** Throws `EMAIL_UNSUBSCRIBE_TOKEN_INVALID` for a tampered, foreign or malformed token. */
export declare function emailOpenUnsubscribeToken(
  tokenKey: EmailTokenKey,
  token: string,
): EmailUnsubscribeFields & { tenantId: string | null; messageId: string | null; stale: boolean };
/** `List-Unsubscribe` and `List-Unsubscribe-Post` header pairs. */
export declare function emailUnsubscribeHeaders(baseUrl: string, token: string, mailto: string | null | undefined): Array<[string, string]>;
/** The `DKIM-Signature` field (ending with CRLF) to put in front of `message`; `random`: 32 bytes. Full builds only (absent on edge). */
export declare function emailDkimSign(message: Uint8Array, options: EmailDkimOptions, random: Uint8Array): string;

// Addresses, recipients and the MIME build.

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
/** The text a template without a text part gets from its HTML: block elements on lines, links as
 *  `text (url)`, list items as `- `, entities decoded, whitespace collapsed. */
export declare function emailHtmlToText(html: string): string;
/** The size `emailBuildMessage` would produce, after the same checks, without encoding the
 *  attachments; EMAIL_MESSAGE_TOO_LARGE over `maxMessageBytes`. */
export declare function emailMessageSize(
  message: EmailMessage,
  options?: EmailBuildOptions | null,
  contents?: Array<Uint8Array | null | undefined> | null,
): number;

/** A hand-off's message as JSON providers take it (the same content as its MIME). */
export interface EmailOutgoing {
  id: string;
  from: { address: string; name?: string | null };
  to: { address: string; name?: string | null }[];
  cc: { address: string; name?: string | null }[];
  bcc: { address: string; name?: string | null }[];
  replyTo: { address: string; name?: string | null }[];
  subject: string;
  html: string | null;
  text: string | null;
  headers: Array<[string, string]>;
  attachments: { filename: string; contentType: string; contentId: string | null; base64: string }[];
  tenantId: string | null;
  idempotencyKey: string;
  tags: Record<string, string> | null;
  /** The exact MIME: what the raw-MIME providers (SES, Mailgun) send. */
  raw?: string;
  /** The envelope's recipients (to, cc, bcc; suppressed ones removed): where raw MIME is delivered. */
  recipients?: string[];
}

/** What SES's SigV4 signer is given. */
export interface EmailAwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/** The request an HTTP transport sends. */
export interface EmailHttpRequest {
  method: "POST";
  url: string;
  headers: Array<[string, string]>;
  body: string;
}

/** The request a transport of `kind` sends for `message`; EMAIL_INVALID_CONFIG naming `apiKey` or `baseUrl`. */
export declare function emailProviderRequest(kind: "resend", message: EmailOutgoing, options: { apiKey: string; baseUrl?: string }): EmailHttpRequest;
export declare function emailProviderRequest(kind: "postmark", message: EmailOutgoing, options: { serverToken: string; baseUrl?: string; messageStream?: string }): EmailHttpRequest;
export declare function emailProviderRequest(kind: "sendgrid", message: EmailOutgoing, options: { apiKey: string; baseUrl?: string }): EmailHttpRequest;
/** Needs `message.raw` and `message.recipients`; EMAIL_INVALID_CONFIG naming `domain`. */
export declare function emailProviderRequest(kind: "mailgun", message: EmailOutgoing, options: { apiKey: string; domain: string; baseUrl?: string }): EmailHttpRequest;
/** Signed with SigV4 at `nowMs`; needs `message.raw` and `message.recipients`; EMAIL_INVALID_CONFIG naming `region` or `credentials.…`. */
export declare function emailProviderRequest(kind: "ses", message: EmailOutgoing, options: { region: string; credentials: EmailAwsCredentials; nowMs: number; baseUrl?: string; configurationSetName?: string }): EmailHttpRequest;
/** One batch request (Resend's `/emails/batch`, permissive validation) for 1 to 100 messages without attachments; its `idempotency-key` derives from the sorted message ids. */
export declare function emailProviderRequest(kind: "resend", messages: EmailOutgoing[], options: { apiKey: string; baseUrl?: string }): EmailHttpRequest;

export interface EmailVerdict {
  outcome: SmtpHandOff;
  providerMessageId: string | null;
  retryAfterMs: number | null;
  detail: string | null;
  /** Recipients the provider refused by name (Postmark's inactive recipients), as hard bounces. */
  recipients: { address: string; accepted: boolean; enhancedCode: string; text?: string }[];
}
/** The hand-off outcome of a provider's answer (`retryAfterMs` for a throttled one). */
export declare function emailClassifyResponse(kind: "resend" | "postmark" | "ses" | "sendgrid" | "mailgun", status: number, headers: Array<[string, string]>, body: string, nowMs: number): EmailVerdict;
/** The answer to a batch request of `count` messages: one outcome per message, in request order. */
export declare function emailClassifyResponse(kind: "resend", status: number, headers: Array<[string, string]>, body: string, nowMs: number, count: number): EmailVerdict[];

/** One step of `send()`: a statement to run in the caller's transaction, or the results. */
export interface EmailSendStep {
  /** `tenant: false`: the statement takes no tenant parameter (the suppression lookup). */
  run?: { statement: string; params: unknown[]; tenant?: boolean };
  /** Opaque: hand it back to `sendNext` as it is. */
  state?: string;
  results?: { id: string; status: "queued" | "duplicate" | "suppressed"; suppressed: { address: string; reason: string }[] }[];
  /** With `run`: the conversation's last statement (a first step without it runs in a transaction). */
  last?: boolean;
}

/** A claimed message ready for a transport, or a skip. */
export interface EmailHandOff {
  message?: {
    id: string;
    category: string;
    /** The envelope: sender address and the recipients still to be sent to. */
    from: string;
    recipients: string[];
    /** The MIME bytes as text (CRLF lines); empty when `handOff` was asked for none. */
    raw: string;
    messageId: string;
    attempt: number;
    /** The transport an earlier ambiguous attempt used (it may have the message): the only one to try. */
    pinned: string | null;
    /** Subject, bodies, tags, tenant and idempotency key, as JSON providers take them. */
    outgoing: EmailOutgoing;
  };
  /** `batch`: the batch request it belongs to, when that request is to be repeated as it was
   *  (the claim returns all its members, to go out together as the identical request). */
  record: { id: string; createdAt: string; leaseToken: string; attempt: number; expiresAtMs: number | null; batch: string | null };
  suppressed: { key: string; address: string | null; reason: string }[];
  skip?: "suppressed";
  /** Mail rendered in this hand-off (`render: "worker"`): the content to store with the
   *  `renderFreeze` statement before it is sent. */
  freeze?: { subject: string; html: string | null; text: string | null; version: string | null } | null;
  /** Mail that could not be rendered: it is not sent, and fails with this code (`retry`: another
   *  worker may render it, so it goes back on the retry schedule). */
  failed?: { code: string; message: string; retry: boolean };
}

/** What the worker reports per message to {@link Email.record}. */
export interface EmailReport {
  record: EmailHandOff["record"];
  suppressed?: EmailHandOff["suppressed"];
  envelope?: string[];
  transport?: string | null;
  idempotent?: boolean;
  outcome: SmtpHandOff | "expired" | "suppressed";
  providerMessageId?: string | null;
  status?: number | null;
  detail?: string | null;
  retryAfterMs?: number | null;
  startedAtMs?: number | null;
  durationMs?: number | null;
  recipients?: { address: string; accepted: boolean; code?: number | null; enhancedCode?: string | null }[];
  /** Transports a failover tried first, recorded as attempt rows of their own. */
  tried?: { transport: string; outcome: SmtpHandOff; status?: number | null; detail?: string | null; startedAtMs: number; durationMs?: number | null }[];
  /** An ambiguous answer to a batch request: held for an operator whatever `onAmbiguous` says
   *  (only the identical request could safely be repeated). */
  hold?: boolean;
  /** A batch member that may have reached the provider: it keeps its batch, to be repeated as
   *  the identical request, and is held rather than failed or expired when retries run out. */
  rebatch?: boolean;
}

/** A compiled `betterEmail` configuration (absent from the edge build). */
export declare class Email {
  constructor(config: Record<string, unknown>);
  settings(): Record<string, unknown> & { requireTransaction: boolean; onAmbiguous: "retry" | "hold"; render: "enqueue" | "worker"; storeProps: boolean };
  statements(): Record<string, { sql: string; params: { name: string; type: string }[] }> & { schemaVersionExpected: number };
  migrationSql(nowMs: number, ahead: number): string;
  /**
   * `inputs`: the JSON text of the inputs (`Record<string, unknown>[]`); `random`: 10 bytes per
   * input. Answers the JSON text of an `EmailSendStep` (a batch crosses as one string each way).
   */
  sendBegin(inputs: string, many: boolean, nowMs: number, random: Uint8Array): string;
  /** `rows`: the JSON text of the step's rows; answers the JSON text of the next `EmailSendStep`. */
  sendNext(state: string, rows: string): string;
  /** `raw` (default true): build each message's MIME; false when no transport sends it. */
  handOff(rows: Record<string, unknown>[], raw?: boolean): EmailHandOff[];
  /** The record statement's parameters and each message's new status. */
  record(reports: EmailReport[], nowMs: number, draws: number[], worker: string): { params: unknown[]; messages: { id: string; status: string; nextAttemptAt: string | null }[] };
  /** Opens an unsubscribe token (EMAIL_UNSUBSCRIBE_TOKEN_INVALID otherwise); `params` are the `suppressionAdd` statement's. */
  unsubscribe(token: string, all: boolean): { tenantId: string | null; address: string; category: string; messageId: string | null; params: unknown[] };
  /** A verified request's normalized events and the `eventsApply` statement's parameters; `requestId`: the verification's id. */
  events(provider: string, requestId: string | null | undefined, body: Uint8Array): { events: EmailEvent[]; params: unknown[] };
  /** An operator's decision on message `id` (`eml_…`), of tenant `tenantId` only when given: the `transition` statement's parameters. */
  transition(action: "cancel" | "retry" | "resend" | "drop", id: string, tenantId?: string | null): { params: unknown[] };
  /** The new status from the `transition` statement's rows; throws `EMAIL_NOT_FOUND` or `EMAIL_INVALID_STATE`. */
  transitioned(action: "cancel" | "retry" | "resend" | "drop", id: string, rows: Record<string, unknown>[]): "queued" | "cancelled";
  /**
   * The statement of a suppression-list call (`check`, `add`, `remove`, `list`, `export`,
   * `import`, `erase`) and its parameters (`import`: a parameter list per thousand rows in
   * `chunks`). `tenantId`: the tenant an operator acts for, or the scope's for `import`.
   */
  suppressionPlan(op: EmailSuppressionOp, input: Record<string, unknown>, tenantId?: string | null): { statement: string; params?: unknown[]; chunks?: unknown[][]; total?: number };
  /** What the statement's rows mean for the call (throws `EMAIL_TENANT_REQUIRED` when a tenant's entry had no tenant). */
  suppressionResult(op: EmailSuppressionOp, input: Record<string, unknown>, rows: Record<string, unknown>[]): unknown;
  /**
   * A sender call (`create`, `list`, `get`, `verified`, `remove`) as its statement and
   * parameters. `get` answers `{ sender, queries }`: the DNS names to look up; `verified` takes
   * the sender's `expect` and the answers, keyed `"TXT name"`, and stores the core's judgement.
   */
  senderPlan(op: EmailSenderOp, input: Record<string, unknown>, tenantId?: string | null): { statement: string; params: unknown[] };
  /** What the statement's rows mean (throws `EMAIL_TENANT_REQUIRED`, `EMAIL_NOT_FOUND`). */
  senderResult(op: EmailSenderOp, input: Record<string, unknown>, rows: Record<string, unknown>[]): unknown;
  /**
   * A tenant-editable template call (`save` renders the source with `sample` first) as its
   * statement and parameters, the tenant first. `tenantId`: the tenant an operator acts for.
   */
  /** A save's plan has `lock`, run first in the same transaction (concurrent saves of one template take turns). */
  templatePlan(op: EmailTemplateOp, input: Record<string, unknown>, tenantId?: string | null): { statement: string; params: unknown[]; lock?: { statement: string; params: unknown[] } };
  /** What the statement's rows mean (`preview`: the stored override rendered, or null). */
  templateResult(op: EmailTemplateOp, input: Record<string, unknown>, rows: Record<string, unknown>[]): unknown;
}

export type EmailTemplateOp = "save" | "remove" | "list" | "preview";

export type EmailSenderOp = "create" | "list" | "get" | "verified" | "remove";

export type EmailSuppressionOp = "check" | "add" | "remove" | "list" | "export" | "import" | "erase";

/** A provider event, normalized (spec §10.2). */
export interface EmailEvent {
  providerEventId: string;
  type: "delivered" | "bounced" | "complained" | "deferred" | "opened" | "clicked" | "unsubscribed" | "rejected";
  bounce: "hard" | "soft" | null;
  recipient: string;
  occurredAtMs: number;
  providerMessageId: string | null;
  betterEmailId: string | null;
  detail: string;
}
