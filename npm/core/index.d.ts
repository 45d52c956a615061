// The data types are generated from the Rust core (types.d.ts, by core/tests/types.rs); the
// functions below are the bindings' signatures over them.
import type {
  AuditCaptureSpec,
  AuditCaptureSql,
  AuditContract,
  AuditQueryOptions,
  AuditQuerySpec,
  AuditTableSpec,
  AuditTableSql,
  ChainBreak,
  ChainHead,
  ChainSql,
  CompiledAuditQuery,
  DecodedCursor,
  EnrichmentData,
  ErrorCode,
  IdKind,
  JwtConfig,
  MergedEnrichment,
  MigrationConfig,
  OneOrMany,
  RedactionEntry,
  RedactionRule,
  Resolution,
  ResolverConfig,
  ResolveRequest,
  RowSeal,
  SqlEffects,
  SqlStatement,
  SqlWrite,
  StoredSealedRow,
  StoreSql,
  Strategy,
  TenantContract,
  TenantsSql,
  VerifyOptions,
} from "./types";
export type * from "./types";
export * from "./webhooks";
export * from "./email";
import type { emailSigV4, emailVerifyEvent, emailSnsCertUrl, emailUnsubscribeToken, emailOpenUnsubscribeToken, emailUnsubscribeHeaders, emailDkimSign } from "./email";
import type { Webhooks, webhookSign, webhookVerify, webhookGenerateSecret, webhookClassifyAddress, webhookClassifyOutcome, webhookRetryAfter, webhookId } from "./webhooks";
export * from "./email";
import type { emailParseAddress, emailRecipients, emailBuildMessage, emailMessageSize, emailHtmlToText, Email, emailProviderRequest, emailClassifyResponse } from "./email";

/** The object form of the `jwt` strategy. */
export type JwtStrategyConfig = Exclude<JwtConfig, string>;

/** Which compiled backend was loaded. */
export declare const backend: "native" | "wasm";
/** Backends tried before the loaded one, with the reason each failed. */
export declare const loadAttempts: ReadonlyArray<{ backend: "native" | "wasm"; cause: unknown }>;

/** An error from the core. `code` is stable (e.g. `JWT_EXPIRED`, `INVALID_IDENTIFIER`). */
export interface CoreError extends Error {
  code: ErrorCode;
}

export declare class TenantResolver {
  constructor(config: ResolverConfig);
  resolve(request: ResolveRequest): Resolution;
  readonly jwtUnverified: boolean;
}

export declare function resolveTenant(request: ResolveRequest, config: ResolverConfig): Resolution;
export declare function verifyJwt(token: string, options: VerifyOptions): Record<string, unknown>;
/** The token of an `Authorization: Bearer <token>` value, or null. */
export declare function bearerToken(authorization: string | null | undefined): string | null;
/**
 * The string claim of an `Authorization: Bearer` value: verified with `verify`, else only decoded
 * (`alg: none` refused). Null for no token, a bad token or a claim that is not a non-empty string.
 */
export declare function bearerClaim(authorization: string | null | undefined, claim: string, verify?: VerifyOptions | null): string | null;

export declare function generateMigrationSql(config: MigrationConfig): string;
export declare function generateAddTableSql(table: string, config: Omit<MigrationConfig, "tenantTables">): string;

/** Classifies a tenant id; throws `TENANT_INVALID_ID` for values that are neither UUID nor slug. */
export declare function normalizeTenantId(raw: string): { value: string; kind: IdKind };
/** Checks a slug to be stored as given; throws `TENANT_INVALID_SLUG` with the slug rule. */
export declare function checkSlug(slug: string): void;
/** Hardened mode: the tenant signature (`tenantContract().tenantSig`) for a tenant id, in the transaction named by `binding`. */
export declare function tenantSignature(key: string, tenantId: string, binding: string): string;
/** Hardened mode: the bypass signature (`tenantContract().bypassSig`), in the transaction named by `binding`. */
export declare function bypassSignature(key: string, binding: string): string;
/** The tenant context's setting names, and the plain-mode SQL of the current tenant (a `tenant_id` column's default). */
export declare function tenantContract(): TenantContract;
/** The tenants table's statements for adapters that run SQL text; `table` defaults to `tenants`. */
export declare function tenantsSql(table?: string | null): TenantsSql;
/**
 * The query a hardened scope runs first: one row whose `binding` names the transaction; with
 * `begin`, prefixed by `begin; ` (one simple-protocol message).
 */
export declare function scopeBindingSql(begin?: boolean | null): string;
/**
 * The query that tells whether the connection's default isolation is READ COMMITTED: one row,
 * boolean column `read_committed`.
 */
export declare function scopeIsolationSql(): string;
/**
 * The statement that opens a scope and sets every setting the policies read: a tenant scope
 * (`tenantId`) or the system scope (`null`); hardened with `key` and the transaction's
 * `binding`; `inline` gives `begin; select …` as one message (plain mode only); optional
 * transaction-local `statement_timeout` and `lock_timeout` in milliseconds; `readOnly` (inline
 * only) gives one `select set_config(…)` that makes the implicit transaction it runs in read
 * only: the set-up sent ahead of a statement that `sqlReadsAlone` accepts, with one Sync.
 */
export declare function scopeSql(
  tenantId: string | null | undefined,
  key: string | null | undefined,
  binding: string | null | undefined,
  inline?: boolean | null,
  statementTimeoutMs?: number | null,
  lockTimeoutMs?: number | null,
  readOnly?: boolean | null,
): SqlStatement;

/**
 * Seals stored audit rows (column name to value, chain order; SQL NULL as an absent key) after
 * `head` (null: a new chain). No key seals unkeyed; a key shorter than 32 bytes throws `AUDIT_SEAL_KEY`.
 */
export declare function auditSealRows(rows: Record<string, unknown>[], head: ChainHead | null, key?: string): RowSeal[];
/** Verifies one chain; null when intact, else the first break. */
export declare function auditVerifyRows(rows: StoredSealedRow[], key: string | undefined, anchor: ChainHead | null): ChainBreak | null;
/** Throws `AUDIT_SEAL_KEY` unless `key` has at least 32 bytes, or is absent with `unkeyed`; `optIn` names how to opt in. */
export declare function auditSealKey(key: string | null | undefined, unkeyed: boolean, optIn: string): void;
/** The statements over `logs` and `checkpoints` (default: `"audit_logs"`, `"audit_chain_checkpoints"`). */
export declare function auditChainSql(logs?: string | null, checkpoints?: string | null): ChainSql;
/** The statements over `logs` (default: `"audit_logs"`). */
export declare function auditStoreSql(logs?: string | null): StoreSql;
/**
 * The changed field names per pair: `[{ before, after }]` JSON text in, `string[][]` JSON text
 * out. The same decision as the SQL diff of inline and trigger capture: values compare as
 * `jsonb` (key order and number spelling do not count), null and missing differ.
 */
export declare function auditChangedFieldsJson(pairsJson: string): string;
/** The same decision in SQL: the stored diff (`jsonb`, null when nothing changed) of the images the `json` expressions `before` and `after` give. */
export declare function auditDiffSql(before: string, after: string): string;
export declare function auditContract(): AuditContract;
/**
 * One multi-row entry INSERT: `columns` are the statement's entry columns, `rows` the columns
 * each row has a value for (the others take their defaults). Parameters row by row, in
 * `columns` order, then with `sealed` the row's seq, prev_hash and hash.
 */
export declare function auditInsertSql(columns: string[], rows: string[][], sealed: boolean): string;
/**
 * One audited mutation as a single statement. Slots: `mutation` (INSERT, DELETE: returning every
 * column, `image` as `imageAs` and `inserted` as `insertedAs`), `set` and `where` (UPDATE),
 * `returning` (the caller's list); inline: the parameters `actor_id`, `label`, `reason`,
 * `compliance`, `metadata`, `tenant_id`. Without inline it returns the caller's columns, the
 * before image (or null), the image and, for an upsert, whether the row was inserted.
 */
export declare function auditCaptureSql(spec: AuditCaptureSpec): AuditCaptureSql;
/** A table's catalog query (`name`, `type`, `pk` per column) and, with columns and key, its row images by key (`$i`: text[] of key column i). */
export declare function auditTableSql(table: AuditTableSpec): AuditTableSql;
/** Canonical JSON: sorted keys, no whitespace. */
export declare function canonicalJson(value: unknown): string;
/** The ISO instant (microseconds) `input` (`4h`, `30d`, `2w`, `3m`, `1y`) before `reference` (ISO; default now), in UTC. */
export declare function parseDuration(input: string, reference?: string | null): string;
export declare function encodeCursor(timestamp: string, id: string): string;
export declare function decodeCursor(cursor: string): DecodedCursor;
/** Compiles a query spec into one parameterised SELECT that fetches `limit + 1` rows. */
export declare function compileAuditQuery(spec: AuditQuerySpec, options: AuditQueryOptions): CompiledAuditQuery;

/** The tables `sql` names as written (data-modifying CTEs, INSERT…SELECT, TRUNCATE, MERGE, COPY FROM, DDL). */
export declare function sqlWrites(sql: string): SqlWrite[];

/** Applies `{ redact }` or `{ include }` (dotted paths; `metadata.` prefix) to entries in one call. */
export declare function redactEntries(rule: RedactionRule, entries: RedactionEntry[]): RedactionEntry[];

export declare class EnrichmentRegistry {
  constructor(auditTables: string[]);
  register(table: string, operation: string, config: EnrichmentData): number;
  resolve(table: string, operation: string): MergedEnrichment | null;
}

/** The native binding for `tool`; throws BINDING_LOAD_FAILED naming why when wasm was loaded. */
export declare function requireNative(tool: string): typeof core;

/** What a command-line run gives back: exit code, output, and the failure's stable code. */
export interface CliOutcome {
  code: number;
  stdout: string;
  stderr: string;
  /** The error's code (e.g. `CLI_USAGE`, `DB_CONNECT`, `AUDIT_TABLE_MISSING`) when the command failed with one. */
  errorCode?: string;
  /** A command whose long-running part the bin runs itself (`better-webhooks worker`, `listen`), checked and handed over. */
  handoff?:
    | { command: "worker"; config: Record<string, unknown>; databaseUrl: string; options: { concurrency: number; once: boolean; maxSeconds: number | null; json: boolean } }
    | { command: "listen"; port: number; secret?: string; publicKey?: string; status: number; json: boolean };
}

/** What the bins hand a command-line run: where it runs, the loaded config and the environment. */
export interface CliContext {
  cwd: string;
  version: string;
  config: unknown;
  databaseUrl: string | null;
  hardenedKey?: string | null;
  /** PGSSLMODE and PGSSLROOTCERT; the URL's sslmode / sslrootcert win. */
  sslMode?: string | null;
  sslRootCert?: string | null;
}

/** Options of {@link emailSmtpSend}; connections are pooled per distinct options. */
export interface SmtpOptions {
  host: string;
  port: number;
  /** `"tls"`: implicit TLS (465); `"starttls"`: required upgrade (587); `"none"`: loopback hosts only. */
  secure: "tls" | "starttls" | "none";
  /** PLAIN (or LOGIN, whichever the server offers, PLAIN first) with `pass`; XOAUTH2 with `accessToken`. */
  auth?: { user: string; pass: string; mechanism?: "plain" | "login" } | { user: string; accessToken: string };
  /** TCP connect, TLS handshake, greeting and EHLO (default 10000). */
  connectTimeoutMs?: number;
  /** Each later reply, the final one after the message included (default 15000). */
  timeoutMs?: number;
  /** Most connections open at once (default 5). */
  pool?: { max?: number };
  /** The EHLO name (default `[127.0.0.1]`). */
  helloName?: string;
  /** Extra trusted CA certificates (PEM), besides the system's. */
  ca?: string;
  /**
   * Signs every message (RFC 6376, relaxed/relaxed; RSA-2048 or ed25519): `h=` covers From, To,
   * Subject, Date, Message-ID, MIME-Version, Content-Type and the one-click unsubscribe headers
   * when present. Checked before any connection; errors name `options.dkim.<field>`.
   */
  dkim?: { domain: string; selector: string; privateKey: string } | null;
}

/** One SMTP reply: its code, its enhanced status code (RFC 3463) when the text starts with one, and its text. */
export interface SmtpReply {
  code: number;
  enhancedCode: string | null;
  text: string;
}

/** A hand-off outcome of the SMTP transport (the product's classification table). */
export type SmtpHandOff = "sent" | "rejected_permanent" | "rejected_recipient" | "auth_failed" | "throttled" | "retryable" | "ambiguous";

/** What {@link emailSmtpSend} resolves to; failures of the exchange are data here, never thrown. */
export interface SmtpSendResult {
  outcome: SmtpHandOff;
  /** In the envelope's order, each with its `RCPT TO` reply (`null` fields when not reached). */
  recipients: { address: string; accepted: boolean; code: number | null; enhancedCode: string | null; text: string | null; outcome: SmtpHandOff }[];
  /** The final reply to the message. */
  data: SmtpReply | null;
  /** Where and why the exchange stopped early: a reply (`code`) or a failure. */
  stopped: {
    stage: "connect" | "starttls" | "auth" | "mail" | "rcpt" | "data" | "message";
    failure: "timeout" | "connection" | "tls" | "protocol" | "unsupported" | null;
    code: number | null;
    enhancedCode: string | null;
    text: string;
  } | null;
}

/**
 * Native only (undefined under wasm): sends `message` (MIME bytes, CRLF line ends) to the
 * envelope's recipients over SMTP. Bad arguments throw at once with `EMAIL_INVALID_ARGUMENT` or
 * `EMAIL_INVALID_ADDRESS` naming the field (`secure: "none"` to a non-loopback host included).
 */
export declare const emailSmtpSend: ((options: SmtpOptions, envelope: { from: string; to: string[] }, message: Uint8Array) => Promise<SmtpSendResult>) | undefined;

/** Native only: the reference's `slugFromName`. */
export declare const slugFromName: ((name: string) => string) | undefined;
/** Native only: the message printed when no better.config.* is found. */
export declare const buildNoConfigMessage: ((cwd: string, suggestedTables: string[] | null) => string) | undefined;

declare const core: {
  backend: typeof backend;
  loadAttempts: typeof loadAttempts;
  TenantResolver: typeof TenantResolver;
  resolveTenant: typeof resolveTenant;
  verifyJwt: typeof verifyJwt;
  bearerToken: typeof bearerToken;
  bearerClaim: typeof bearerClaim;
  generateMigrationSql: typeof generateMigrationSql;
  generateAddTableSql: typeof generateAddTableSql;
  normalizeTenantId: typeof normalizeTenantId;
  checkSlug: typeof checkSlug;
  tenantSignature: typeof tenantSignature;
  bypassSignature: typeof bypassSignature;
  tenantContract: typeof tenantContract;
  tenantsSql: typeof tenantsSql;
  scopeBindingSql: typeof scopeBindingSql;
  scopeIsolationSql: typeof scopeIsolationSql;
  scopeSql: typeof scopeSql;
  auditSealRows: typeof auditSealRows;
  auditVerifyRows: typeof auditVerifyRows;
  auditSealKey: typeof auditSealKey;
  auditChainSql: typeof auditChainSql;
  auditStoreSql: typeof auditStoreSql;
  auditChangedFieldsJson: typeof auditChangedFieldsJson;
  auditDiffSql: typeof auditDiffSql;
  auditContract: typeof auditContract;
  auditInsertSql: typeof auditInsertSql;
  auditCaptureSql: typeof auditCaptureSql;
  auditTableSql: typeof auditTableSql;
  canonicalJson: typeof canonicalJson;
  parseDuration: typeof parseDuration;
  encodeCursor: typeof encodeCursor;
  decodeCursor: typeof decodeCursor;
  compileAuditQuery: typeof compileAuditQuery;
  sqlWrites: typeof sqlWrites;
  redactEntries: typeof redactEntries;
  EnrichmentRegistry: typeof EnrichmentRegistry;
  requireNative: typeof requireNative;

  emailSmtpSend: typeof emailSmtpSend;
  slugFromName: typeof slugFromName;
  buildNoConfigMessage: typeof buildNoConfigMessage;
  sqlEffects: typeof sqlEffects;
  sqlReadsAlone: typeof sqlReadsAlone;
  sqlSetsSession: typeof sqlSetsSession;
  Webhooks: typeof Webhooks;
  webhookSign: typeof webhookSign;
  webhookVerify: typeof webhookVerify;
  webhookGenerateSecret: typeof webhookGenerateSecret;
  webhookClassifyAddress: typeof webhookClassifyAddress;
  webhookClassifyOutcome: typeof webhookClassifyOutcome;
  webhookRetryAfter: typeof webhookRetryAfter;
  webhookId: typeof webhookId;
  emailSigV4: typeof emailSigV4;
  emailVerifyEvent: typeof emailVerifyEvent;
  emailSnsCertUrl: typeof emailSnsCertUrl;
  emailUnsubscribeToken: typeof emailUnsubscribeToken;
  emailOpenUnsubscribeToken: typeof emailOpenUnsubscribeToken;
  emailUnsubscribeHeaders: typeof emailUnsubscribeHeaders;
  emailDkimSign: typeof emailDkimSign;
  emailParseAddress: typeof emailParseAddress;
  emailRecipients: typeof emailRecipients;
  emailBuildMessage: typeof emailBuildMessage;
  emailMessageSize: typeof emailMessageSize;
  emailHtmlToText: typeof emailHtmlToText;
  Email: typeof Email;
  emailProviderRequest: typeof emailProviderRequest;
  emailClassifyResponse: typeof emailClassifyResponse;
};
export default core;

/** What `sql` could write; absent in the edge build, which has no SQL analyser. */
export declare const sqlEffects: ((sql: string) => SqlEffects) | undefined;
/**
 * Whether `sql` is one plain read (no writes, locks, or calls that depend on the transaction)
 * that gives the same rows in a transaction of its own; absent in the edge build.
 */
export declare const sqlReadsAlone: ((sql: string) => boolean) | undefined;
/**
 * Whether `sql` may change the session's defaults (`SET`, `RESET`, `DISCARD`): a connection's
 * default isolation is then asked again; absent in the edge build.
 */
export declare const sqlSetsSession: ((sql: string) => boolean) | undefined;
