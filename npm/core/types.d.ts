// Generated from the Rust core's types by core/tests/types.rs; do not edit.

export type OneOrMany = string | Array<string>;

export type VerifyOptions = { 
/**
 * HMAC secret for HS256/384/512.
 */
secret?: string, 
/**
 * PEM public key (RSA, P-256 or Ed25519).
 */
publicKey?: string, 
/**
 * JWKS document (object or JSON text).
 */
jwks?: string | { keys: object[] }, 
/**
 * Allowed algorithms; defaults to every algorithm the configured keys can check.
 */
algorithms?: Array<"HS256" | "HS384" | "HS512" | "RS256" | "RS384" | "RS512" | "ES256" | "EdDSA">, 
/**
 * Required audience(s): the token's `aud` must contain one of them.
 */
audience?: OneOrMany, 
/**
 * Required issuer(s): the token's `iss` must equal one of them.
 */
issuer?: OneOrMany, 
/**
 * Clock skew tolerated for `exp` and `nbf`, in seconds. Default 0.
 */
leeway?: number, };

export type Strategy = "header" | "path" | "subdomain" | "jwt";

export type IdKind = "uuid" | "slug";

export type PathConfig = string | { pattern: string, segmentIndex?: number, };

export type SubdomainConfig = boolean | { segmentIndex?: number, };

export type JwtConfig = string | { claim: string, unverified?: boolean } & VerifyOptions;

export type ResolverConfig = { header?: string, path?: PathConfig, subdomain?: SubdomainConfig, jwt?: JwtConfig, 
/**
 * A JS `custom` callback runs after these strategies (it counts as a strategy).
 */
custom?: boolean, 
/**
 * A JS `resolveToId` callback maps identifiers to ids: it gets the raw (trimmed) value,
 * which is not validated here (a custom domain such as `acme.example` is not a slug).
 */
resolveToId?: boolean, };

export type HeaderValue = string | Array<string>;

export type ResolveRequest = { 
/**
 * Header names in any case.
 */
headers?: { [key in string]: HeaderValue }, host?: string, path?: string, url?: string, 
/**
 * A token obtained by the caller; otherwise `Authorization: Bearer` is read.
 */
token?: string, 
/**
 * Claims already verified by the caller (a JS `verifyToken` callback).
 */
claims?: Record<string, unknown>, };

export type Rejection = { strategy: Strategy, code: string, message: string, };

export type Resolution = { value: string | null, strategy: Strategy | null, kind: IdKind | null, rejected: Array<Rejection>, };

export type MigrationConfig = { 
/**
 * Tables with a `tenant_id uuid` column. `"schema.table"` overrides `schema` per table.
 */
tenantTables: Array<string>, 
/**
 * Schema of the tables and of the generated functions. Default `public`.
 */
schema?: string, 
/**
 * Signed tenant context (see `functions`). Default false.
 */
hardened?: boolean, 
/**
 * Also distribute the tables with Citus (`tenant_id` as distribution column). Default false.
 */
citus?: boolean, };

export type TenantContract = { currentTenant: string, bypass: string, tenantSig: string, bypassSig: string, 
/**
 * [`current_tenant_expr`].
 */
tenantIdDefault: string, 
/**
 * The tenants table and the function that fills `tenant_id` on insert.
 */
tenantsTable: string, tenantIdFunction: string, 
/**
 * [`PREPARED_PREFIX`].
 */
preparedPrefix: string, };

export type SqlStatement = { sql: string, params: Array<string>, };

export type TenantsSql = { 
/**
 * `$1` id (uuid), `$2` name, `$3` slug; returns the row.
 */
create: string, 
/**
 * `$1` id (uuid).
 */
byId: string, 
/**
 * `$1` slug.
 */
bySlug: string, 
/**
 * `$1` id, `$2` name or null (kept), `$3` slug or null (kept); returns the row.
 */
update: string, 
/**
 * `$1` limit, `$2` offset; oldest first, then by id, so pages neither skip nor repeat.
 */
list: string, 
/**
 * `$1` id.
 */
delete: string, 
/**
 * One row, `count` (int).
 */
count: string, };

export type ChainHead = { seq: number, hash: string, };

export type RowSeal = { seq: number, prevHash: string, hash: string, };

export type StoredSealedRow = { seq: number, prevHash: string, hash: string, 
/**
 * The stored row, column name to value (SQL NULL as an absent key).
 */
row: Record<string, unknown>, };

export type ChainBreakKind = "edited" | "deleted" | "inserted" | "reordered" | "truncated" | "checkpoint" | "unkeyed";

export type ChainBreak = { kind: ChainBreakKind, 
/**
 * The row where the break shows (for `deleted`/`truncated`: the last intact row, if any).
 */
rowId: string | null, seq: number, message: string, };

export type PerChain = { global: string, tenant: string, };

export type ChainSql = { 
/**
 * The chain's transaction-scoped advisory lock (in FROM: Prisma cannot read a void column).
 */
lock: string, 
/**
 * The last sealed entry (`head_seq` as text, `hash`); not a column named seq, which
 * ORDER BY would then sort as text.
 */
head: PerChain, 
/**
 * Whether the checkpoint table exists (`has`), taking no `$1`.
 */
hasCheckpoints: string, 
/**
 * The chain's checkpoint (`head_seq` as text, `hash`, `mac`).
 */
checkpoint: string, 
/**
 * The chains that have a checkpoint (`chain`, null for the global one), taking no `$1`.
 */
checkpointChains: string, 
/**
 * Per chain (`chain`, `seq`, `hash`), the last sealed entry older than `$1` (ISO instant).
 */
purgedHeads: string, 
/**
 * Upserts checkpoints from arrays `$1` chain, `$2` seq, `$3` hash, `$4` mac; never
 * moves one back.
 */
recordCheckpoints: string, 
/**
 * The chains that have entries (`chain`, null for the global one), taking no `$1`.
 */
chains: string, 
/**
 * The chain's oldest unsealed entries, at most `$2`, in sealing order, the sealed columns
 * as text ([`sealed_text_columns`]).
 */
pending: PerChain, 
/**
 * Writes seals from arrays `$1` id, `$2` seq, `$3` prev_hash, `$4` hash.
 */
markSealed: string, 
/**
 * The chain's sealed entries with seq above `$2`, at most `$3` (null: all), in seq order:
 * the sealed columns as text, then `seq`, `prev_hash`, `hash`.
 */
sealedAfter: PerChain, 
/**
 * How many of the chain's entries are unsealed (`n`), and how many of those were written
 * more than `$2` seconds ago (`overdue`): a running `seal --watch` has not caught up.
 */
unsealed: PerChain, 
/**
 * The chains that have unsealed entries (`chain`, null for the global one), taking no
 * `$1`: a loose scan of the `(tenant_id, seq)` index, one probe per chain, so a sealer
 * polling a large table reads no entries but the unsealed ones.
 */
pendingChains: string, 
/**
 * One row: `sealed` (any entry has a seq) and `entries` (how many there are), no `$1`.
 */
sealingState: string, 
/**
 * The sealed columns of type `jsonb`, whose text is parsed before sealing.
 */
jsonColumns: Array<string>, };

export type StatsSql = { 
/**
 * `total` entries and distinct `tables`.
 */
totals: string, 
/**
 * `date` (`YYYY-MM-DD`, session time zone) and `count`, oldest first, at most 365.
 */
days: string, 
/**
 * `actor_id` and `count`, the 10 most active.
 */
actors: string, 
/**
 * `table_name` and `count`, the 10 most audited.
 */
tables: string, 
/**
 * `operation` and `count`.
 */
operations: string, 
/**
 * `severity` and `count`.
 */
severities: string, };

export type StoreSql = { 
/**
 * The entry with id `$1` (a UUID), with `cursor_ts`: its exact position for cursors.
 */
byId: string, 
/**
 * The table's columns (`name`), none when it does not exist: a table made for the
 * reference lacks `tenant_id` and the seal columns until `better-audit migrate`.
 */
columns: string, 
/**
 * How many of the entries a purge would delete are sealed (`n`).
 */
sealedInPurge: string, 
/**
 * Deletes the entries older than `$1` and returns how many went (`n`).
 */
purge: string, 
/**
 * The same, sparing sealed entries: one sealed after the check above is never deleted.
 */
purgeUnsealed: string, 
/**
 * `getStats`, each over the entries from `$1` (inclusive) to `$2` (exclusive), ISO text,
 * either null for no bound.
 */
stats: StatsSql, 
/**
 * The columns of type `jsonb`, whose values are written as JSON text.
 */
jsonColumns: Array<string>, };

export type AuditColumn = { name: string, 
/**
 * The entry's property (`table_name` → `tableName`).
 */
key: string, 
/**
 * The SQL type, as `migrate` creates it and as statements cast their parameters.
 */
type: string, };

export type AuditIndex = { name: string, columns: Array<string>, };

export type AuditSettings = { actor: string, tenant: string, metadata: string, };

export type AuditContract = { 
/**
 * The table's name, and as statements spell it (`"audit_logs"`: the search path's).
 */
table: string, ref: string, checkpoints: string, checkpointsRef: string, 
/**
 * The entry columns in table order (the seal columns follow them).
 */
columns: Array<AuditColumn>, sealColumns: [string, string, string], indexes: Array<AuditIndex>, trigger: string, captureFunction: string, settings: AuditSettings, statementPrefix: string, 
/**
 * The tables under trigger capture (`name`), which adapters leave to the trigger.
 */
triggeredTables: string, 
/**
 * Hands the trigger the actor (`$1`), the tenant (`$2`) and the metadata (`$3`) for the
 * rest of the transaction.
 */
contextSettings: string, };

export type AuditTableSpec = { schema?: string | null, name: string, 
/**
 * `[name, SQL type]` keeps the column name as the image key; `[name, SQL type, key]` names it.
 */
columns?: Array<[string, string] | [string, string, string]>, key?: Array<string>, };

export type AuditTableSql = { 
/**
 * The table as statements name it.
 */
ref: string, 
/**
 * Its columns in order: `name`, `type` (`format_type`), `pk` (position in the primary
 * key, null outside it); no rows when the table does not exist.
 */
columns: string, 
/**
 * `ctid` and `image` (text) of the rows whose keys are given: parameter `$i` holds the
 * values of key column `i` as a text array.
 */
images?: string, 
/**
 * The same, locking the rows `FOR UPDATE` first.
 */
imagesLocked?: string, };

export type AuditOperation = "INSERT" | "UPDATE" | "DELETE";

export type AuditInlineCapture = { 
/**
 * The table has `tenant_id` (one made for the reference lacks it until `migrate`).
 */
tenant: boolean, 
/**
 * Store no before image (every field then counts as changed).
 */
skipBefore?: boolean, };

export type AuditCaptureSpec = { table: AuditTableSpec, operation: AuditOperation, 
/**
 * An INSERT … ON CONFLICT DO UPDATE: each row says whether it was inserted.
 */
upsert?: boolean, 
/**
 * Write the audit rows in the statement itself.
 */
inline?: AuditInlineCapture | null, };

export type AuditSqlPart = string | { slot: string, before?: string, after?: string, };

export type AuditCaptureSql = { 
/**
 * The row image as text, for the `RETURNING` list of a mutation the adapter builds.
 */
image: string, imageAs: string, inserted?: string, insertedAs: string, statement: Array<AuditSqlPart>, };

export type AuditResource = { tableName: string, recordId?: string, };

export type AuditTimeFilter = { date?: string, duration?: string, };

export type AuditQueryFilters = { resource?: AuditResource, actorIds?: Array<string>, severities?: Array<string>, compliance?: Array<string>, since?: AuditTimeFilter, until?: AuditTimeFilter, searchText?: string, operations?: Array<string>, 
/**
 * Restricts to one tenant's entries (our `tenant_id` column).
 */
tenantId?: string, };

export type AuditQuerySpec = { filters: AuditQueryFilters, limit?: number, cursor?: string, sortOrder?: "asc" | "desc", };

export type AuditQueryOptions = { 
/**
 * The entries' table as statements spell it; default `audit_logs`.
 */
table?: string, 
/**
 * The largest page; default 1000.
 */
maxLimit?: number, 
/**
 * ISO "now" for durations; default the current time.
 */
now?: string, };

export type CompiledAuditQuery = { sql: string, 
/**
 * The conditions alone (no `WHERE`), empty when there are none; they use the first
 * parameters, the limit is always the last one.
 */
where: string, params: unknown[], limit: number, };

export type DecodedCursor = { timestamp: string, id: string, };

export type FieldChange = { field: string, 
/**
 * Absent when the field did not exist before.
 */
old?: unknown, 
/**
 * Absent when the field does not exist after.
 */
new?: unknown, };

export type RowDiff = { changedFields: Array<string>, changes: Array<FieldChange>, };

export type RedactionEntry = { before?: Record<string, unknown>, after?: Record<string, unknown>, metadata?: Record<string, unknown>, diff?: RowDiff, redactedFields?: Array<string>, };

export type RedactionRule = { redact?: Array<string>, include?: Array<string>, };

export type EnrichmentData = { label?: string, severity?: "low" | "medium" | "high" | "critical", compliance?: Array<string>, notify?: boolean, redact?: Array<string>, include?: Array<string>, 
/**
 * Whether the JavaScript config had a `description` callback.
 */
hasDescription?: boolean, };

export type MergedEnrichment = { label: string | null, severity: "low" | "medium" | "high" | "critical" | null, compliance: Array<string>, notify: boolean | null, redact: Array<string>, include: Array<string>, 
/**
 * Index (registration order) of the registration whose `description` applies.
 */
descriptionFrom: number | null, };

export type SqlWrite = { 
/**
 * Schema when the SQL names one.
 */
schema?: string, table: string, 
/**
 * `INSERT`, `UPDATE`, `DELETE`, `TRUNCATE` or `MERGE` for row changes; `ALTER TABLE`,
 * `DROP`, `DROP TRIGGER` or `CREATE VIEW` for DDL that moves the table out of reach.
 */
operation: "INSERT" | "UPDATE" | "DELETE" | "TRUNCATE" | "MERGE" | "ALTER TABLE" | "DROP" | "DROP TRIGGER" | "CREATE VIEW", };

export type SqlEffects = { 
/**
 * The tables it names as written, in statement order.
 */
writes: Array<SqlWrite>, 
/**
 * Why it could also write tables it does not name; absent when it cannot.
 */
opaque?: string, };

/** Every stable `err.code` a package, tool or the core raises (core/src/error.rs). */
export type ErrorCode =
  | "AUDIT_ADAPTER_UNSUPPORTED"
  | "AUDIT_ANCHOR_INVALID"
  | "AUDIT_CAPTURE_TABLE"
  | "AUDIT_INVALID_DATA"
  | "AUDIT_INVALID_QUERY"
  | "AUDIT_NOT_PARTITIONED"
  | "AUDIT_QUERY_FAILED"
  | "AUDIT_SEALED_PURGE"
  | "AUDIT_SEAL_KEY"
  | "AUDIT_TABLE_MISSING"
  | "AUDIT_UNCAPTURED_WRITE"
  | "BINDING_LOAD_FAILED"
  | "CLI_FILE"
  | "CLI_FILE_EXISTS"
  | "CLI_NO_CONFIG"
  | "CLI_NO_DATABASE"
  | "CLI_USAGE"
  | "DB_CONNECT"
  | "DB_CONNECTION_CLOSED"
  | "DB_INVALID_URL"
  | "DB_QUERY"
  | "DB_TLS"
  | "EMAIL_EVENT_BAD_SIGNATURE"
  | "EMAIL_EVENT_CERT_REJECTED"
  | "EMAIL_EVENT_STALE"
  | "EMAIL_EVENT_TOPIC_REJECTED"
  | "EMAIL_EVENT_UNKNOWN_PROVIDER"
  | "EMAIL_IDEMPOTENCY_CONFLICT"
  | "EMAIL_INVALID_ADDRESS"
  | "EMAIL_INVALID_ARGUMENT"
  | "EMAIL_INVALID_CONFIG"
  | "EMAIL_INVALID_HEADER"
  | "EMAIL_INVALID_STATE"
  | "EMAIL_MESSAGE_TOO_LARGE"
  | "EMAIL_NOT_FOUND"
  | "EMAIL_NO_TRANSACTION"
  | "EMAIL_RATE_LIMITED"
  | "EMAIL_SCHEMA_MISSING"
  | "EMAIL_SCHEMA_OUTDATED"
  | "EMAIL_SECRETS_KEY_MISSING"
  | "EMAIL_SECRETS_KEY_WRONG"
  | "EMAIL_SENDER_NOT_VERIFIED"
  | "EMAIL_TEMPLATE_ENGINE_UNAVAILABLE"
  | "EMAIL_TEMPLATE_NOT_FOUND"
  | "EMAIL_TEMPLATE_PROPS_INVALID"
  | "EMAIL_TEMPLATE_RENDER_FAILED"
  | "EMAIL_TENANT_MISMATCH"
  | "EMAIL_TENANT_REQUIRED"
  | "EMAIL_TOO_MANY_RECIPIENTS"
  | "EMAIL_TRANSPORT_NOT_FOUND"
  | "EMAIL_TRANSPORT_UNAVAILABLE"
  | "EMAIL_UNSUBSCRIBE_TOKEN_INVALID"
  | "INTERNAL"
  | "INVALID_ARGUMENT"
  | "INVALID_CONFIG"
  | "INVALID_CURSOR"
  | "INVALID_DURATION"
  | "INVALID_IDENTIFIER"
  | "JWT_ALG_NONE"
  | "JWT_ALG_NOT_ALLOWED"
  | "JWT_BAD_AUDIENCE"
  | "JWT_BAD_CLAIM"
  | "JWT_BAD_ISSUER"
  | "JWT_BAD_SIGNATURE"
  | "JWT_CLAIM_MISSING"
  | "JWT_EXPIRED"
  | "JWT_INVALID_KEY"
  | "JWT_KEY_NOT_FOUND"
  | "JWT_MALFORMED"
  | "JWT_NOT_YET_VALID"
  | "JWT_NO_KEYS"
  | "TENANT_ACQUIRE_TIMEOUT"
  | "TENANT_EXISTS"
  | "TENANT_HARDENED_KEY"
  | "TENANT_INVALID_ID"
  | "TENANT_INVALID_SLUG"
  | "TENANT_NOT_FOUND"
  | "TENANT_NO_SCOPE"
  | "TENANT_SCOPE_CLOSED"
  | "TENANT_TABLE_MISSING"
  | "WEBHOOKS_ENDPOINT_DISABLED"
  | "WEBHOOKS_IDEMPOTENCY_CONFLICT"
  | "WEBHOOKS_INVALID_ARGUMENT"
  | "WEBHOOKS_INVALID_CONFIG"
  | "WEBHOOKS_INVALID_EVENT_TYPE"
  | "WEBHOOKS_INVALID_HEADER"
  | "WEBHOOKS_INVALID_STATE"
  | "WEBHOOKS_LIMIT_REACHED"
  | "WEBHOOKS_NOT_FOUND"
  | "WEBHOOKS_NO_TRANSACTION"
  | "WEBHOOKS_PAYLOAD_INVALID"
  | "WEBHOOKS_PAYLOAD_TOO_LARGE"
  | "WEBHOOKS_SCHEMA_MISSING"
  | "WEBHOOKS_SCHEMA_OUTDATED"
  | "WEBHOOKS_SECRETS_KEY_MISSING"
  | "WEBHOOKS_SECRETS_KEY_WRONG"
  | "WEBHOOKS_SECRET_INVALID"
  | "WEBHOOKS_TENANT_MISMATCH"
  | "WEBHOOKS_TENANT_REQUIRED"
  | "WEBHOOKS_TOO_MANY_OLD_KEYS"
  | "WEBHOOKS_UNKNOWN_EVENT_TYPE"
  | "WEBHOOKS_URL_FORBIDDEN"
  | "WEBHOOKS_URL_INVALID"
  | "WEBHOOK_BAD_SIGNATURE"
  | "WEBHOOK_BAD_TIMESTAMP"
  | "WEBHOOK_DUPLICATE"
  | "WEBHOOK_INVALID_KEY"
  | "WEBHOOK_MISSING_HEADER"
  | "WEBHOOK_TIMESTAMP_TOO_NEW"
  | "WEBHOOK_TIMESTAMP_TOO_OLD";
