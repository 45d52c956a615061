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
tenantsTable: string, tenantIdFunction: string, };

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
  | "WEBHOOKS_IDEMPOTENCY_CONFLICT"
  | "WEBHOOKS_INVALID_ARGUMENT"
  | "WEBHOOKS_INVALID_CONFIG"
  | "WEBHOOKS_INVALID_EVENT_TYPE"
  | "WEBHOOKS_INVALID_HEADER"
  | "WEBHOOKS_PAYLOAD_INVALID"
  | "WEBHOOKS_PAYLOAD_TOO_LARGE"
  | "WEBHOOKS_SCHEMA_MISSING"
  | "WEBHOOKS_SCHEMA_OUTDATED"
  | "WEBHOOKS_SECRETS_KEY_MISSING"
  | "WEBHOOKS_SECRETS_KEY_WRONG"
  | "WEBHOOKS_SECRET_INVALID"
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
