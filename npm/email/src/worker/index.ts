// The delivery engine: claim a batch (one short system-context transaction), build each
// message's bytes in the core, hand them to the routed transport outside any transaction,
// record every answer in one batched transaction fenced by the lease tokens, and reap messages
// whose worker died mid hand-off. The loop that drives it is in ./loop.
import core, { type Email as CoreEmail, type EmailHandOff } from "@usebetter-rs/core/email-binding";
import type { AuditWriter } from "../audit";
import { run, workerTransaction, type EmailDatabase, type Statements } from "../db";
import { EmailConfigError, EmailError, guard } from "../errors";
import { hook, type EmailHookEvent, type Transport } from "../types";
import type { AnyTemplate } from "../email";
import { createDelivery } from "./deliver";
import { createRecorder } from "./record";
import { freezeParams, renderCode } from "./render";

export interface WorkerOptions {
  /** Messages handed off at once (default 16). */
  concurrency?: number;
  /** Sleep between empty claims (default 250 ms). */
  pollIntervalMs?: number;
  /** At most this many of one tenant per claim (default 20; with a batching transport, at least its batch). */
  perTenantBatch?: number;
  /** How long a claim holds a message (default: the hand-off timeout + 30 s). */
  leaseMs?: number;
  /** Each hand-off's limit (default: the longest of the transports' `timeoutMs`, else 15000 ms). */
  timeoutMs?: number;
  /** Named in `email_attempts.worker_id` and the leases. */
  workerId?: string;
}

export interface RouteContext {
  tenantId: string | null;
  category: string;
}

export interface EngineContext {
  core: CoreEmail;
  db: EmailDatabase;
  statements: Statements;
  transports: Readonly<Record<string, Transport>>;
  /** The code templates, for mail the worker renders (`render: "worker"`). */
  templates?: Readonly<Record<string, AnyTemplate>>;
  route?: ((ctx: RouteContext) => string) | undefined;
  onAmbiguous: "retry" | "hold";
  onEvent?: (e: EmailHookEvent) => unknown;
  /** Transports paused after refusing our credentials: name → until (ms), kept by this process. */
  paused?: Map<string, number>;
  /** With `audit`: writes each message's final outcome in its record transaction. */
  audit?: AuditWriter | undefined;
}

/** A tenant or domain a quota claim found without tokens: the core's statement that moves its
 *  due mail (`step`) and that statement's argument. */
interface Held {
  step: string;
  arg: string;
}

/**
 * The worker's hand-off slots: `take` resolves when a request may leave; `arrived` says its
 * answers are back and being recorded (the loop may claim for that slot already); `release`
 * frees the slot once they are recorded. A crash then repeats at most the messages of
 * `concurrency` requests (those with their transport or being recorded): messages claimed
 * ahead wait for a slot unsent.
 */
export interface Slots {
  take(): Promise<void>;
  arrived(): void;
  release(): void;
}

/** A claimed round: its messages, the requests they went out in, and `done`, which settles once
 *  every answer is recorded (it rejects if recording failed). */
export interface Round {
  claimed: number;
  requests: number;
  done: Promise<void>;
}

export interface Engine {
  /** Claims what `slots` hand-off requests can carry (a batching transport's batch each) and
   *  starts them, each once `gate` gives it a slot (at once without a gate). */
  begin(slots?: number, gate?: Slots): Promise<Round>;
  /** One claim → hand-off → record round; resolves to the number of messages handed off. */
  tick(slots?: number): Promise<number>;
  /** Re-queues (or holds) messages whose lease ran out; resolves to how many. */
  reap(): Promise<number>;
  /** After a tick that claimed nothing because the transport's rate had no grant yet while mail
   *  was due: the milliseconds until the next grant; otherwise null. */
  waitMs(): number | null;
}

/** A transport's rate as the claim takes it: its bucket, and the least time between grants. */
function rateOf(transports: Readonly<Record<string, Transport>>): { key: string; spacingMs: number } | null {
  const limited = Object.values(transports).filter((t) => t.maxPerSecond !== undefined);
  if (limited.length === 0) return null;
  const t = limited[0]!;
  // 5% apart beyond the rate: N + 1 grants span more than a second even when the requests
  // reach the provider a few milliseconds early or late, so no 1-second window sees N + 1.
  return { key: `transport:${t.name}`, spacingMs: (1000 / t.maxPerSecond!) * 1.05 };
}

export function createEngine(ctx: EngineContext, o: WorkerOptions = {}): Engine {
  const names = Object.keys(ctx.transports);
  if (names.length === 0) throw new EmailConfigError("EMAIL_INVALID_CONFIG", "invalid `transport`: the worker needs a transport");
  const timeoutMs = o.timeoutMs ?? Math.max(...names.map((n) => ctx.transports[n]!.timeoutMs ?? 15_000));
  const leaseMs = o.leaseMs ?? timeoutMs + 30_000;
  const perTenantBatch = o.perTenantBatch ?? 20;
  const workerId = o.workerId ?? `email-${crypto.randomUUID().slice(0, 8)}`;
  // A failover's members answer under their own names: the reaper trusts theirs.
  const all = (t: Transport): Transport[] => [t, ...(t.members ?? []).flatMap(all)];
  const members = new Map(names.flatMap((n) => all(ctx.transports[n]!)).map((t) => [t.name, t]));
  const idempotent = [...members.values()].filter((t) => t.capabilities.idempotency).map((t) => t.name);
  // The MIME is built only if some transport sends it (SMTP, raw-MIME providers, custom ones).
  const withRaw = [...members.values()].some((t) => t.capabilities.rawMime);
  // A crash before any answer: a retry is safe only if every route ends at one idempotent
  // transport (a failover's next member would not know the first one's key).
  const allIdempotent = names.every((n) => ctx.transports[n]!.capabilities.idempotency && !ctx.transports[n]!.members);

  const rate = rateOf(ctx.transports);
  const paused = ctx.paused ?? new Map<string, number>();
  let wait: number | null = null;

  const pick = (m: NonNullable<EmailHandOff["message"]>): Transport => {
    const name = ctx.route ? ctx.route({ tenantId: m.outgoing.tenantId, category: m.category }) : names[0]!;
    const t = ctx.transports[name];
    if (!t) throw new EmailConfigError("EMAIL_TRANSPORT_NOT_FOUND", `route() returned ${JSON.stringify(name)}, which is not one of the configured transports (${names.join(", ")})`);
    return t;
  };
  /** The statements' fence of claimed messages: ids, lease tokens, partition keys. */
  const fenced = (hs: EmailHandOff[]) => [hs.map((h) => h.record.id), hs.map((h) => h.record.leaseToken), hs.map((h) => h.record.createdAt)];
  // Batch members are marked before their request leaves: if this process dies during it, the
  // reaper queues them as one batch, to be sent again as the identical request.
  const mark = async (key: string, hs: EmailHandOff[]): Promise<boolean> => {
    // With the member count: a batch some of whose members left it can never pass for whole.
    const rows = await workerTransaction(ctx.db, ctx.statements, (ex) => run(ex, ctx.statements, "batchMark", [key, hs.length, ...fenced(hs)]));
    return rows.length === hs.length;
  };
  const delivery = createDelivery({ members, pick, timeoutMs, mark });
  const recorded = createRecorder(ctx, workerId, paused);

  // Messages one request can carry: the largest batch among the routes (a failover sends one).
  const perRequest = Math.max(1, ...names.map((n) => (ctx.transports[n]!.members ? 1 : Math.min(100, ctx.transports[n]!.capabilities.batch))));
  // A tenant's share of a claim fills at least one request: a batch is one request, as fair to
  // other tenants as one message is without batching.
  const perTenant = Math.max(perTenantBatch, perRequest);

  /** Runs each held tenant's or domain's deferral (the core's `step`) piece by piece, each in
   *  its own transaction, until a piece moves nothing. */
  async function defer(held: Held[]): Promise<void> {
    for (const { step, arg } of held) {
      for (let moved = 0; ; ) {
        const rs = await workerTransaction(ctx.db, ctx.statements, (ex) => run(ex, ctx.statements, step, [arg, moved]), "deferScope");
        if (rs.length === 0) break;
        moved += rs.length;
      }
    }
  }

  const none: Round = { claimed: 0, requests: 0, done: Promise.resolve() };
  const claimScope = ctx.statements.claimScope ? "claimScope" : "workerScope";
  async function begin(free = o.concurrency ?? 16, gate?: Slots): Promise<Round> {
    // A grant of the transport's rate is one request: one request's worth of messages.
    const slots = rate ? 1 : free;
    // One request's worth per claim at most when batching (the claim locks four times its
    // limit of candidates; the loop claims again while slots are free), a message per slot else.
    const limit = Math.min(slots * perRequest, Math.max(slots, perRequest));
    let hint: number | null = null;
    // Tenant rates and warm-up caps: the claim's scope also takes the claims' turn, so that each
    // reads the tokens the last one spent.
    const claim = await workerTransaction(ctx.db, ctx.statements, async (ex) => {
      if (rate) {
        // Same transaction as the claim: the bucket stays locked until the grant is taken.
        const [b] = await run(ex, ctx.statements, "rateTake", [rate.key, rate.spacingMs]);
        if (b?.due === true && Number(b.wait_ms) > 0) hint = Number(b.wait_ms);
      }
      return run(ex, ctx.statements, "claim", [limit, perTenant, leaseMs, workerId, rate?.key ?? null, rate?.spacingMs ?? null], true);
    }, claimScope);
    // A quota claim reports the tenants and domains it found without tokens (`held`, on a row
    // without `id` when it claimed nothing); their mail is moved after the claim's commit.
    const rows = claim.filter((r) => r.id != null);
    const held = claim.length > 0 && typeof claim[0]!.held === "string" ? (JSON.parse(claim[0]!.held) as Held[]) : [];
    const deferred = held.length > 0 ? defer(held) : null;
    // Its failure reaches the caller through the round's `done` (or the claim again below); a
    // throw on the way there must not leave it an unhandled rejection. A deferral cut short
    // leaves its mark to run out, and a later claim reports the mail again.
    deferred?.catch(() => undefined);
    wait = rows.length === 0 ? hint : null;
    if (rows.length === 0) {
      if (!deferred) return none;
      // The claim met only held mail: once that is out of the way, the mail behind it is claimed.
      await deferred;
      return begin(free, gate);
    }
    if (rows.some((r) => r.rendered === false)) await renderCode(ctx.templates ?? {}, rows);
    let handOffs = guard(EmailError, () => ctx.core.handOff(rows, withRaw));
    const frozen = freezeParams(handOffs, fenced, leaseMs);
    if (frozen) {
      const rs = await workerTransaction(ctx.db, ctx.statements, (ex) => run(ex, ctx.statements, "renderFreeze", frozen));
      const kept = new Set(rs.map((r) => String(r.id)));
      // A lease lost since the claim (the message is another worker's now), or erased.
      handOffs = handOffs.filter((h) => kept.has(h.record.id));
    }
    const planned = delivery.plan(handOffs);
    const { local } = planned;
    // Split once: a record during the wait below may pause another transport. Messages for a
    // paused transport go back for the rest of its pause, those beyond the free slots at once:
    // one release per delay, all in one transaction.
    const now = Date.now();
    const back = new Map<number, EmailHandOff[]>();
    const requests = planned.requests.filter((r) => {
      const rest = (paused.get(r.transport.name) ?? 0) - now;
      if (rest > 0) back.set(rest, [...(back.get(rest) ?? []), ...r.at.map((i) => handOffs[i]!)]);
      return rest <= 0;
    });
    const over = requests.splice(slots).flatMap((r) => r.at.map((i) => handOffs[i]!));
    if (over.length > 0) back.set(0, over);
    if (back.size > 0) {
      await workerTransaction(ctx.db, ctx.statements, async (ex) => {
        for (const [delay, hs] of back) await run(ex, ctx.statements, "release", [delay, ...fenced(hs)]);
      });
    }
    const each = [...local].map(([i, report]) => report.then((r) => recorded([handOffs[i]!], [r])));
    for (const r of requests) {
      let back = false;
      const arrived = () => {
        if (!back) gate?.arrived();
        back = true;
      };
      const written = (gate ? gate.take() : Promise.resolve())
        .then(() => Promise.all(delivery.send(handOffs, r)))
        .then((reps) => (arrived(), recorded(r.at.map((i) => handOffs[i]!), reps)));
      // A slot is free once its answers are recorded (see Slots).
      const release = () => (arrived(), gate?.release());
      void written.then(release, release);
      each.push(written);
    }
    if (deferred) each.push(deferred);
    const claimed = local.size + requests.reduce((n, r) => n + r.at.length, 0);
    // Settles once every answer is recorded or failed, so that stop() waits for all of them.
    const done = Promise.allSettled(each).then((rs) => {
      const failed = rs.find((x): x is PromiseRejectedResult => x.status === "rejected");
      if (failed) throw failed.reason;
    });
    return { claimed, requests: requests.length, done };
  }

  return {
    begin,
    async tick(slots) {
      const r = await begin(slots);
      await r.done;
      return r.claimed;
    },
    waitMs: () => wait,
    async reap() {
      const rows = await workerTransaction(ctx.db, ctx.statements, (ex) => run(ex, ctx.statements, "reap", [ctx.onAmbiguous === "hold", idempotent, allIdempotent]));
      for (const r of rows) {
        if (r.status !== "ambiguous") continue;
        const id = core.webhookId("email", String(r.id), true);
        hook(ctx.onEvent, { type: "message.ambiguous", id, tenantId: (r.tenant_id as string | null) ?? null, transport: (r.transport as string | null) ?? null, detail: (r.last_error as string | null) ?? null });
      }
      return rows.length;
    },
  };
}

export { runWorker, type Worker } from "./loop";
