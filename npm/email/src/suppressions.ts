// The suppression list as an API (spec §10.4) and erasure. The core checks each call's input
// and writes its statement; here the statement runs in the right context:
// - inside a tenant scope or on `{ tx }`: the caller's transaction, where row-level security
//   shows the scope's own entries (global entries are never listed to a tenant, though
//   `check` still counts them, through the lookup function the send path uses);
// - outside any scope: `{ tenantId }` acts as the operator for that tenant, `scope: "global"`
//   on the entries that apply to every tenant, each in a system-context transaction of its own;
//   with neither, a tenant's entry has no tenant and the call is refused.
import type { EmailSuppressionOp } from "@usebetter-rs/core/email-binding";
import { ambientTransaction } from "@usebetter-rs/core/db";
import { inCallerTransaction, run, scopedTransaction, systemTransaction, type CallOptions, type Executor, type Row } from "./db";
import { suppressionEntries } from "./audit";
import { EmailError, guard } from "./errors";
import type { SendContext } from "./send";
import type { SuppressionReason } from "./types";

/** One entry of the list. */
export interface Suppression {
  id: string;
  /** `null`: global (every tenant). */
  tenantId: string | null;
  /** `null` once the address was erased (its hash still blocks it). */
  address: string | null;
  /** SHA-256 (hex) of the address's matching key: what audit entries name. */
  addressHash: string;
  /** `null`: every category. */
  category: string | null;
  reason: SuppressionReason;
  /** Who added it: `api`, `import`, `unsubscribe_link`, `event`, `smtp`, … */
  source: string | null;
  note: string | null;
  expiresAt: string | null;
  createdAt: string;
}

export type SuppressionScope = "tenant" | "global";

export interface SuppressionAddInput {
  address: string;
  /** Default `"manual"`. */
  reason?: SuppressionReason;
  /** Default `"tenant"` (the scope's, or `tenantId`'s); `"global"` blocks the address for every tenant (system context only). */
  scope?: SuppressionScope;
  /** Only this category (default: every category). */
  category?: string;
  expiresAt?: Date | string;
  note?: string;
}

export interface SuppressionRemoveInput {
  address: string;
  /** Default `"tenant"`. */
  scope?: SuppressionScope;
  /** Only the entries of this category / reason (default: all of the address's in the scope). */
  category?: string;
  reason?: SuppressionReason;
}

export interface SuppressionListQuery {
  reason?: SuppressionReason;
  since?: Date | string;
  /** `nextCursor` of the previous page. */
  cursor?: string;
  /** 1 to 1,000; default 100. */
  limit?: number;
  /** `"global"`: the entries for every tenant (system context only). */
  scope?: SuppressionScope;
}

/** A row to import: the columns of an exported file. */
export interface SuppressionRow {
  address: string;
  reason?: SuppressionReason;
  category?: string | null;
  tenantId?: string | null;
  expiresAt?: Date | string | null;
  note?: string | null;
}

export interface ErasedCounts {
  /** SHA-256 (hex) of the address's matching key. */
  addressHash: string;
  messages: number;
  recipients: number;
  attachments: number;
  attempts: number;
  events: number;
  suppressions: number;
}

const iso = (v: unknown) => (v instanceof Date ? v.toISOString() : v);

/** `input` with Dates as ISO text (the core takes JSON). */
function plain(input: object | undefined, dates: string[]): Record<string, unknown> {
  if (input !== undefined && (typeof input !== "object" || input === null)) {
    throw new EmailError("EMAIL_INVALID_ARGUMENT", "invalid `input`: expected an object");
  }
  const out: Record<string, unknown> = { ...input };
  for (const k of dates) if (k in out) out[k] = iso(out[k]);
  return out;
}

/** `opts.tenantId`, checked (null: none given). */
export function tenantOf(opts: CallOptions | undefined): string | null {
  const t: unknown = opts?.tenantId;
  if (t !== undefined && typeof t !== "string") throw new EmailError("EMAIL_INVALID_ARGUMENT", "invalid `tenantId`: expected the tenant's UUID");
  return t ?? null;
}

/** Runs `op`'s statement in the caller's context, or (outside) in `outside`'s transaction. */
async function execute<T>(ctx: SendContext, op: EmailSuppressionOp, input: Record<string, unknown>, opts: CallOptions | undefined, outside: "system" | "tenant" | "required"): Promise<T> {
  const tenantId = tenantOf(opts);
  const plan = guard(EmailError, () => ctx.core.suppressionPlan(op, input, tenantId));
  const apply = async (ex: Executor) => {
    const rows = await run(ex, ctx.statements, plan.statement, plan.params ?? []);
    const result = guard(EmailError, () => ctx.core.suppressionResult(op, input, rows)) as T;
    if (ctx.audit) await ctx.audit(ex, suppressionEntries(op, result, tenantId));
    return result;
  };
  // The lookup function reads the tenant from the scope: for an operator's `check`, open that
  // tenant's (a system scope would show it the global entries only).
  const tenantScope = (fn: (ex: Executor) => Promise<T>) => scopedTransaction(ctx.db, tenantId, fn);
  if (outside === "tenant" && tenantId !== null && opts?.tx === undefined && ambientTransaction()?.isSystem) return tenantScope(apply);
  return inCallerTransaction(ctx.db, false, opts, apply, (fn) => {
    if (outside === "tenant" && tenantId !== null) return tenantScope(fn);
    if (outside === "required" && tenantId === null && input.scope !== "global") {
      throw new EmailError(
        "EMAIL_TENANT_REQUIRED",
        `suppressions.${op} needs a tenant: call it inside a tenant scope (tenant.runAs, the tenant middleware, or tenant.runAsSystem for every tenant), pass \`{ tenantId }\` to act for one tenant, or use \`scope: "global"\``,
      );
    }
    return systemTransaction(ctx.db, fn);
  });
}

async function importRows(ctx: SendContext, rows: unknown, opts: CallOptions | undefined): Promise<{ total: number; added: number }> {
  if (typeof rows !== "string" && !Array.isArray(rows)) {
    throw new EmailError("EMAIL_INVALID_ARGUMENT", "invalid `rows`: expected CSV or NDJSON text, or an array of { address, reason?, ... }");
  }
  const given = typeof rows === "string" ? rows : rows.map((r: unknown) => (typeof r === "object" && r !== null ? plain(r, ["expiresAt"]) : r));
  const ambient = ambientTransaction();
  // In a tenant scope every row is the scope's tenant's (the core refuses one naming another).
  const tenant = tenantOf(opts) ?? (ambient && !ambient.isSystem ? (ambient.tenantId ?? null) : null);
  const plan = guard(EmailError, () => ctx.core.suppressionPlan("import", { rows: given }, tenant));
  const apply = async (ex: Executor) => {
    let added = 0;
    for (const params of plan.chunks ?? []) {
      const [row] = await run(ex, ctx.statements, plan.statement, params);
      added += Number((row as Row | undefined)?.added ?? 0);
    }
    const result = { total: plan.total ?? 0, added };
    if (ctx.audit && added > 0) await ctx.audit(ex, suppressionEntries("import", result, tenant));
    return result;
  };
  return inCallerTransaction(ctx.db, false, opts, apply, (fn) => systemTransaction(ctx.db, fn));
}

/** `email.suppressions`. */
export function suppressionsApi(ctx: SendContext) {
  return {
    /** Whether `address` is suppressed for `category` in the tenant's context (global entries included). */
    check: async (address: string, opts?: CallOptions & { category?: string }): Promise<{ suppressed: boolean; reason: SuppressionReason | null }> => {
      const { category, ...call } = opts ?? {};
      return execute(ctx, "check", { address, ...(category === undefined ? {} : { category }) }, call, "tenant");
    },
    /** Adds an entry; an identical one (tenant, address, category, reason) already present is left as is. */
    add: async (input: SuppressionAddInput, opts?: CallOptions): Promise<{ added: boolean; suppression: Suppression | null }> =>
      execute(ctx, "add", plain(input, ["expiresAt"]), opts, "required"),
    /** Removes the address's entries in one scope (of one category or reason when given). */
    remove: async (input: SuppressionRemoveInput, opts?: CallOptions): Promise<{ removed: number; suppressions: Suppression[] }> =>
      execute(ctx, "remove", plain(input, []), opts, "required"),
    /** A page of entries, oldest first; pass `nextCursor` back for the next one. */
    list: async (query: SuppressionListQuery = {}, opts?: CallOptions): Promise<{ data: Suppression[]; nextCursor: string | null }> =>
      execute(ctx, "list", plain(query, ["since"]), opts, "required"),
    /** The entries as CSV (default) or NDJSON, which `import` reads back; erased addresses are left out. */
    export: async (options: { scope?: SuppressionScope; format?: "csv" | "ndjson" } = {}, opts?: CallOptions): Promise<string> =>
      execute(ctx, "export", plain(options, []), opts, "required"),
    /** Adds entries from CSV/NDJSON text or row objects, all checked before any is written. */
    import: (rows: string | SuppressionRow[], opts?: CallOptions): Promise<{ total: number; added: number }> => importRows(ctx, rows, opts),
  };
}

/**
 * Erases an address (GDPR): its recipient rows and events go, the messages it received keep no
 * subject, body, headers, props, attachments or attempt details, and its suppressions keep only
 * the address's hash, so it stays blocked. Outside a scope it runs in system context, for
 * every tenant.
 */
export async function erase(ctx: SendContext, address: string, opts?: Omit<CallOptions, "tenantId">): Promise<ErasedCounts> {
  if ((opts as CallOptions | undefined)?.tenantId !== undefined) {
    throw new EmailError("EMAIL_INVALID_ARGUMENT", "invalid `tenantId`: erase() removes the person everywhere; call it inside a tenant scope to erase one tenant's copy");
  }
  return execute(ctx, "erase", { address }, opts, "system");
}
