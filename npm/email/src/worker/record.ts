// Recording the transports' answers: many per transaction (whatever arrived while the last
// write ran goes in the next one), final outcomes audited in the same transaction, then the hooks.
import core, { type EmailHandOff, type EmailReport } from "@usebetter-rs/core/email-binding";
import { isFinal, outcomeEntries, type Outcome } from "../audit";
import { run, workerTransaction, type Row } from "../db";
import { EmailError, guard } from "../errors";
import { hook } from "../types";
import type { EngineContext } from "./index";

/** A recorded message's outcome, as audited: `row` is what the record statement returned of it. */
function outcome(m: { id: string; status: string }, r: EmailReport, row: Row): Outcome {
  const end = (r.startedAtMs ?? Date.now()) + (r.durationMs ?? 0);
  return {
    id: core.webhookId("email", m.id, true),
    status: m.status,
    tenantId: (row.tenant_id as string | null) ?? null,
    category: (row.category as string | null) ?? null,
    transport: r.transport ?? null,
    outcome: r.outcome,
    providerMessageId: r.providerMessageId ?? null,
    providerStatus: r.status ?? null,
    attempt: Number(row.attempt_count),
    at: end,
  };
}

/** Runs `fn` once the event loop has handled the input ready now (edge runtimes have no
 *  setImmediate: a zero timeout there). */
const afterIo: (fn: () => void) => void = typeof setImmediate === "function" ? (fn) => void setImmediate(fn) : (fn) => void setTimeout(fn, 0);

/** How long a transport that refused our credentials gets no messages (spec §8.3). */
const AUTH_PAUSE_MS = 60_000;

/**
 * `recorded(handOffs, reports)` resolves once those answers are recorded (rejects if recording
 * failed). `paused` gets each routed transport that refused our credentials.
 */
export function createRecorder(ctx: EngineContext, workerId: string, paused: Map<string, number>): (hs: EmailHandOff[], rs: EmailReport[]) => Promise<void> {
  /** Records answers in one transaction, then tells the hooks what changed. */
  async function record(handOffs: EmailHandOff[], reports: EmailReport[]): Promise<void> {
    const draws = reports.map(() => Math.random() * 2 - 1);
    const plan = guard(EmailError, () => ctx.core.record(reports, Date.now(), draws, workerId));
    // Only what was written: a message whose lease another worker took over was not.
    const written = await workerTransaction(ctx.db, ctx.statements, async (ex) => {
      // Without an audit write to follow, the record is the transaction's last statement.
      const rows = new Map((await run(ex, ctx.statements, "record", plan.params, !ctx.audit)).map((row) => [String(row.id), row]));
      // Final outcomes are audited in the transaction that records them, under a savepoint: a
      // failed audit write is undone alone (and reported), never the record, whose rollback
      // would send those messages again.
      // Retried messages are not final: no entry, so no outcome built for them.
      const entries = ctx.audit ? outcomeEntries(plan.messages.flatMap((m, i) => (rows.has(m.id) && isFinal(m.status) ? [outcome(m, reports[i]!, rows.get(m.id)!)] : []))) : [];
      if (ctx.audit && entries.length > 0) {
        await run(ex, ctx.statements, "auditMark", []);
        try {
          await ctx.audit(ex, entries);
        } catch (err) {
          await run(ex, ctx.statements, "auditUndo", []);
          hook(ctx.onEvent, { type: "audit.failed", ids: entries.map((e) => e.recordId), detail: (err as Error)?.message ?? String(err) });
        }
      }
      return rows;
    });
    for (const [i, m] of plan.messages.entries()) {
      const r = reports[i]!;
      if (!written.has(m.id)) continue;
      if (m.status === "ambiguous") {
        const tenantId = handOffs[i]?.message?.outgoing.tenantId ?? null;
        hook(ctx.onEvent, { type: "message.ambiguous", id: core.webhookId("email", m.id, true), tenantId, transport: r.transport ?? null, detail: r.detail ?? null });
      }
      // A refusal of our credentials, by the transport that answered or one a failover tried first.
      for (const t of [...(r.tried ?? []), r]) {
        if (t.outcome === "auth_failed" && t.transport) hook(ctx.onEvent, { type: "transport.down", transport: t.transport, status: t.status ?? null, detail: t.detail ?? null });
      }
      // A routed transport (not a failover's member: the failover moves on) rests a while.
      if (r.outcome === "auth_failed" && r.transport && ctx.transports[r.transport]) paused.set(r.transport, Date.now() + AUTH_PAUSE_MS);
    }
  }

  // Answers are recorded as they come, many per transaction: whatever arrived while the last
  // write ran goes in the next one. A message delivered but not yet recorded would be judged
  // by the reaper if this process died, so none waits for a slow neighbour in its round. A
  // request's answers always go in one transaction: a batch recorded in part, then a crash,
  // would leave its other members unable to repeat the identical request.
  const answers: { hs: EmailHandOff[]; rs: EmailReport[]; settle: (err?: unknown) => void }[] = [];
  let flushing = false;
  async function flush(): Promise<void> {
    flushing = true;
    while (answers.length > 0) {
      const batch = answers.splice(0);
      const err = await record(batch.flatMap((a) => a.hs), batch.flatMap((a) => a.rs)).then(() => undefined, (e: unknown) => e ?? new Error("record failed"));
      for (const a of batch) a.settle(err);
    }
    flushing = false;
  }
  // Answers to requests sent together come back together: the first waits until the event
  // loop has read the others ready with it, so they share its transaction instead of waiting
  // for the next one.
  let scheduled = false;
  const recorded = (hs: EmailHandOff[], rs: EmailReport[]) =>
    new Promise<void>((resolve, reject) => {
      answers.push({ hs, rs, settle: (err) => (err === undefined ? resolve() : reject(err)) });
      if (flushing || scheduled) return;
      scheduled = true;
      afterIo(() => {
        scheduled = false;
        if (!flushing) void flush();
      });
    });
  return recorded;
}
