// Senders (spec §11): the domains and addresses a tenant sends from, and their DNS readiness.
// The core checks each call's input, writes its statement, says which DNS names to look up and
// judges the answers; here the statements run in the caller's context (as the suppression
// list's do) and the lookups go to `node:dns`, or to the resolver the app gives.
import type { EmailSenderOp } from "@usebetter-rs/core/email-binding";
import { inCallerTransaction, run, systemTransaction, type CallOptions, type Executor } from "./db";
import { EmailConfigError, EmailError, guard } from "./errors";
import type { SendContext } from "./send";
import { tenantOf } from "./suppressions";
import type { Transport } from "./types";

/** What `verify` asks of DNS: `node:dns/promises` (or its `Resolver`) has this shape. */
export interface DnsResolver {
  resolveTxt(name: string): Promise<string[][]>;
  resolveCname(name: string): Promise<string[]>;
}

export type DnsCheckStatus = "pass" | "fail" | "error";

export interface DnsCheck {
  check: "ownership" | "SPF" | "DKIM" | "DMARC" | "alignment";
  status: DnsCheckStatus;
  detail: string;
  fix?: string;
}

/** What the sender's domain must publish for its transport. */
export interface DnsExpect {
  domain: string;
  kind: string | null;
  envelopeDomain: string;
  spfInclude: string | null;
  dkimDomain: string;
  dkimSelectors: string[];
  /** Publish `usebetter-verification=<token>` as a TXT record at `_usebetter.<domain>`: it proves the tenant controls the domain. */
  token: string;
}

export interface DnsReport {
  domain: string;
  passed: boolean;
  /** Lookups failed and no check failed: nothing is known (a verified sender stays verified). */
  inconclusive: boolean;
  dmarcPolicy: string | null;
  checks: DnsCheck[];
}

export interface Sender {
  id: string;
  /** `null`: the app's own (global) sender. */
  tenantId: string | null;
  domain: string;
  /** `null`: any address at `domain`. */
  address: string | null;
  displayName: string | null;
  transport: string | null;
  transportIdentity: string | null;
  default: boolean;
  /** Set while the last conclusive verification passed. */
  verifiedAt: string | null;
  expect: DnsExpect;
  /** The last verification's report. */
  dns: DnsReport | null;
  createdAt: string;
}

export interface SenderCreateInput {
  /** The sending domain (every address at it), or give `address`. */
  domain?: string;
  address?: string;
  displayName?: string;
  /** A name of `transports`: the DNS records asked for follow its provider. */
  transport?: string;
  transportIdentity?: string;
  /** The tenant's default `from` once verified (then it replaces the previous default); needs `address`. */
  default?: boolean;
  /** Records the provider made up for this domain, or an SMTP relay's SPF include. */
  dns?: { envelopeDomain?: string; spfInclude?: string; dkimSelectors?: string[]; dkimDomain?: string };
  /** `"global"`: the app's own sender (system context only). */
  scope?: "tenant" | "global";
}

/** One DNS lookup the core asks for. */
export interface DnsQuery {
  name: string;
  type: "TXT" | "CNAME";
}

/** The answers of `queries`, keyed `"TXT name"`: records (a TXT record's strings joined), or the resolver's error code. */
export async function dnsAnswers(resolver: DnsResolver, queries: readonly DnsQuery[]): Promise<Record<string, { records: string[] } | { error: string }>> {
  const answers: Record<string, { records: string[] } | { error: string }> = {};
  await Promise.all(
    queries.map(async ({ name, type }) => {
      try {
        const records = type === "TXT" ? (await resolver.resolveTxt(name)).map((chunks) => chunks.join("")) : await resolver.resolveCname(name);
        answers[`${type} ${name}`] = { records };
      } catch (err) {
        const code = (err as { code?: unknown })?.code;
        answers[`${type} ${name}`] = { error: typeof code === "string" ? code : "EFAILED" };
      }
    }),
  );
  return answers;
}

async function defaultResolver(): Promise<DnsResolver> {
  try {
    return await import("node:dns/promises");
  } catch {
    throw new EmailConfigError("EMAIL_INVALID_CONFIG", "senders.verify needs a DNS resolver on this runtime: betterEmail({ senders: { resolver } }) or verify(id, { resolver })");
  }
}

export interface SendersContext {
  ctx: SendContext;
  transports: Readonly<Record<string, Transport>>;
  resolver?: DnsResolver;
}

/** Runs `op`'s statement in the caller's context, or outside any in a system transaction. */
async function execute<T>(s: SendersContext, op: EmailSenderOp, input: Record<string, unknown>, opts: CallOptions | undefined): Promise<T> {
  const { ctx } = s;
  if (typeof ctx.core.senderPlan !== "function") {
    throw new EmailError("EMAIL_INVALID_CONFIG", `email.senders.${op === "get" || op === "verified" ? "verify" : op} is not in the edge build: manage senders from Node (this API, or \`better-email senders\`)`);
  }
  const plan = guard(EmailError, () => ctx.core.senderPlan(op, input, tenantOf(opts)));
  const apply = async (ex: Executor) => {
    const rows = await run(ex, ctx.statements, plan.statement, plan.params);
    return guard(EmailError, () => ctx.core.senderResult(op, input, rows)) as T;
  };
  return inCallerTransaction(ctx.db, false, opts, apply, (fn) => systemTransaction(ctx.db, fn));
}

/** `email.senders`. */
export function sendersApi(s: SendersContext) {
  const kindOf = (name: unknown): string | undefined => {
    if (typeof name === "string") return s.transports[name]?.kind;
    const all = Object.values(s.transports);
    return all.length === 1 ? all[0]!.kind : undefined;
  };
  return {
    /** Adds a sender of the scope's tenant (or `{ tenantId }`'s, or the app's with `scope: "global"`), not yet verified. */
    create: async (input: SenderCreateInput, opts?: CallOptions): Promise<Sender> => {
      if (typeof input !== "object" || input === null) throw new EmailError("EMAIL_INVALID_ARGUMENT", "invalid `input`: expected { domain | address, ... }");
      const kind = kindOf(input.transport);
      return execute(s, "create", { ...input, ...(kind === undefined ? {} : { transportKind: kind }) }, opts);
    },
    /** The senders the call sees (a tenant's own; outside a scope, every tenant's). */
    list: async (query: { scope?: "tenant" | "global" } = {}, opts?: CallOptions): Promise<Sender[]> => execute(s, "list", { ...query }, opts),
    /**
     * Looks up the sender's ownership token, SPF, DKIM, DMARC and alignment records and stores
     * the verdict: a pass verifies it (a default sender then becomes the tenant's only default),
     * a failure unverifies it, failed lookups with no failing check change nothing.
     */
    verify: async (id: string, opts?: CallOptions & { resolver?: DnsResolver }): Promise<Sender> => {
      const { resolver, ...call } = opts ?? {};
      const { sender, queries } = await execute<{ sender: Sender; queries: DnsQuery[] }>(s, "get", { id }, call);
      const answers = await dnsAnswers(resolver ?? s.resolver ?? (await defaultResolver()), queries);
      return execute(s, "verified", { id, expect: sender.expect, answers }, call);
    },
    /** Removes a sender; `false` when the call sees none with that id. */
    remove: async (id: string, opts?: CallOptions): Promise<boolean> => (await execute<{ removed: boolean }>(s, "remove", { id }, opts)).removed,
  };
}
