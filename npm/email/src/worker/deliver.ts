// One claim's hand-offs: each message goes to its routed transport (or the one an earlier
// ambiguous attempt pinned it to), outside any transaction, and its answer becomes the report
// the core records. A transport that takes several messages per request (`capabilities.batch`)
// gets the claim's unpinned, attachment-free messages of one tenant together, up to that many,
// in id order; a batch request to repeat (its members marked with its key) goes out whole as it
// was. The worker plans the requests first, so that it sends no more at once than it has slots.
import type { EmailHandOff, EmailReport } from "@usebetter-rs/core/email-binding";
import { EmailError } from "../errors";
import type { HandOffResult, PreparedMessage, Transport } from "../types";

type Message = NonNullable<EmailHandOff["message"]>;

export interface DeliveryContext {
  /** Every transport by name, a failover's members included. */
  members: ReadonlyMap<string, Transport>;
  /** The routed transport of a message. */
  pick(m: Message): Transport;
  timeoutMs: number;
  /** Marks a batch's members with its key before the request leaves; false if a lease was lost. */
  mark(key: string, members: EmailHandOff[]): Promise<boolean>;
}

const encoder = new TextEncoder();

function prepared(m: Message): PreparedMessage {
  const o = m.outgoing;
  const out: PreparedMessage = {
    id: m.id,
    tenantId: o.tenantId,
    category: m.category,
    from: m.from,
    recipients: m.recipients,
    subject: o.subject,
    raw: encoder.encode(m.raw),
    messageId: m.messageId,
    idempotencyKey: o.idempotencyKey,
    attempt: m.attempt,
    outgoing: o,
  };
  if (o.html !== null) out.html = o.html;
  if (o.text !== null) out.text = o.text;
  if (o.tags) out.tags = o.tags;
  return out;
}

export function createDelivery(ctx: DeliveryContext) {
  /** After an ambiguous attempt only that transport may try again (never a failover's other member). */
  const transportOf = (m: Message): Transport => (m.pinned !== null && ctx.members.get(m.pinned)) || ctx.pick(m);

  /** Hands `messages` to `transport` within the timeout: one result per message. */
  async function handTo(transport: Transport, messages: Message[], mark?: (key: string) => Promise<boolean>): Promise<HandOffResult[]> {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(new EmailError("EMAIL_TRANSPORT_UNAVAILABLE", `hand-off timed out after ${ctx.timeoutMs} ms`)), ctx.timeoutMs);
    try {
      const out = await transport.send(messages.map(prepared), abort.signal, mark);
      return messages.map((_, i) => out[i] ?? { outcome: "ambiguous", detail: "the transport returned no result" });
    } catch (err) {
      // Whether the provider got the message is unknown: the ambiguity policy decides.
      const detail = `transport ${transport.name} threw: ${(err as Error)?.message ?? String(err)}`;
      return messages.map(() => ({ outcome: "ambiguous", detail }));
    } finally {
      clearTimeout(timer);
    }
  }

  /** The report of `h`'s answer `r` from `transport`, whose hand-off started at `started`. */
  function report(h: EmailHandOff, transport: Transport, r: HandOffResult, started: number, batched: "no" | "whole" | "partly"): EmailReport {
    const answered = (r.transport !== undefined && ctx.members.get(r.transport)) || transport;
    // After a failover's earlier tries, the answering transport started when the last one ended.
    const last = r.tried?.at(-1);
    const answeredAt = last ? last.startedAtMs + last.durationMs : started;
    const out: EmailReport = {
      record: h.record,
      suppressed: h.suppressed,
      envelope: h.message!.recipients,
      transport: answered.name,
      idempotent: answered.capabilities.idempotency,
      outcome: r.outcome,
      startedAtMs: answeredAt,
      durationMs: Date.now() - answeredAt,
      providerMessageId: r.providerMessageId ?? null,
      status: r.status ?? null,
      detail: r.detail ?? null,
      retryAfterMs: r.retryAfterMs ?? null,
    };
    if (last) out.tried = r.tried!;
    if (r.recipients) out.recipients = r.recipients;
    // A member of a batch request that left (its key marked) and came back unsettled while
    // others of it were settled: the identical request can no longer be made (its settled
    // members would not be claimed again), so it waits for an operator. When no member was
    // settled, it stays in its batch and the identical request is repeated later (the claim
    // returns the batch whole), which the provider answers from its idempotency record.
    if (batched === "partly" && r.outcome === "ambiguous") out.hold = true;
    // A repeat, or a batch that left and came back unanswered: it stays that batch.
    if (h.record.batch !== null || (batched === "whole" && r.outcome === "ambiguous")) out.rebatch = true;
    return out;
  }

  /** A batch member that cannot go out as its batch was: held, with the rest of that batch. */
  const heldReport = (h: EmailHandOff, why: string): EmailReport => ({
    record: h.record,
    suppressed: h.suppressed,
    outcome: "ambiguous",
    hold: true,
    rebatch: true,
    detail: `its batch request, whose outcome is unknown, can no longer be repeated as it was: ${why}`,
  });

  /**
   * Batch requests to repeat (the claim returns each whole) that cannot go out as they were,
   * by member: a member now wholly or partly suppressed (the body would differ under the same
   * key), a route that fails, or members routed apart.
   */
  function unrepeatable(handOffs: EmailHandOff[]): Map<number, string> {
    const batches = new Map<string, number[]>();
    for (const [i, h] of handOffs.entries()) {
      if (h.record.batch !== null) batches.set(h.record.batch, [...(batches.get(h.record.batch) ?? []), i]);
    }
    const out = new Map<number, string>();
    for (const at of batches.values()) {
      let why: string | null = null;
      let transport: Transport | undefined;
      for (const i of at) {
        const h = handOffs[i]!;
        if (!h.message || h.suppressed.length > 0) why = "a recipient of a member was suppressed since";
        else {
          try {
            const t = transportOf(h.message);
            if (transport && t !== transport) why = "its members are now routed to different transports";
            transport = t;
          } catch (err) {
            why = `its route failed (${(err as Error)?.message ?? String(err)})`;
          }
        }
        if (why) break;
      }
      if (why) for (const i of at) out.set(i, why);
    }
    return out;
  }

  async function one(h: EmailHandOff, m: Message, transport: Transport): Promise<EmailReport> {
    const started = Date.now();
    const [r] = await handTo(transport, [m]);
    return report(h, transport, r!, started, "no");
  }

  function many(hs: EmailHandOff[], transport: Transport): Promise<EmailReport>[] {
    const started = Date.now();
    // A transport that sends the group one by one never marks it: its members keep the
    // ambiguity policy of a lone message.
    let marked = false;
    const mark = (key: string) => ctx.mark(key, hs).then((ok) => (marked = ok), () => false);
    const answers = handTo(transport, hs.map((h) => h.message!), mark);
    return hs.map((h, i) =>
      answers.then((rs) => {
        const lost = rs.every((x) => x.outcome === "ambiguous");
        return report(h, transport, rs[i]!, started, !marked ? "no" : lost ? "whole" : "partly");
      }),
    );
  }

  return {
    /**
     * How a claim's hand-offs go out: `requests`, each one message or a batch for one tenant
     * (indexes into `handOffs`), and `local`, answered without a request (suppressed, or a
     * route that failed).
     */
    plan(handOffs: EmailHandOff[]): { requests: Planned[]; local: Map<number, Promise<EmailReport>> } {
      const requests: Planned[] = [];
      const local = new Map<number, Promise<EmailReport>>();
      const groups = new Map<string, Planned>();
      const held = unrepeatable(handOffs);
      for (const [i, h] of handOffs.entries()) {
        const m = h.message;
        const why = held.get(i);
        if (why) {
          local.set(i, Promise.resolve(heldReport(h, why)));
          continue;
        }
        if (h.failed) {
          // Not renderable (`render: "worker"`): no request; retried on the schedule when
          // another worker may render it (its registry lacks the template), else failed now.
          const detail = `${h.failed.code}: ${h.failed.message}`;
          const outcome = h.failed.retry ? "retryable" : "rejected_permanent";
          local.set(i, Promise.resolve({ record: h.record, suppressed: h.suppressed, outcome, detail }));
          continue;
        }
        if (h.skip || !m) {
          local.set(i, Promise.resolve({ record: h.record, suppressed: h.suppressed, outcome: "suppressed" }));
          continue;
        }
        let transport: Transport;
        try {
          transport = transportOf(m);
        } catch (err) {
          // Handled from here on: the worker still awaits the database before it chains on this.
          const failed = Promise.reject(err);
          failed.catch(() => undefined);
          local.set(i, failed);
          continue;
        }
        // A batch request to repeat: its members (the claim returns all of them) go out together
        // again, whatever the transport's batch size now, pinned or not.
        const batch = h.record.batch;
        if (batch !== null) {
          let g = groups.get(`\u0001${batch}`);
          if (!g) {
            g = { transport, at: [] };
            groups.set(`\u0001${batch}`, g);
            requests.push(g);
          }
          g.at.push(i);
          continue;
        }
        const size = transport.capabilities.batch;
        if (size <= 1 || transport.members || m.pinned !== null || m.outgoing.attachments.length > 0) {
          requests.push({ transport, at: [i] });
          continue;
        }
        const key = `${transport.name}\u0000${m.outgoing.tenantId ?? ""}`;
        let g = groups.get(key);
        if (!g || g.at.length >= size) {
          g = { transport, at: [] };
          groups.set(key, g);
          requests.push(g);
        }
        g.at.push(i);
      }
      // Members in id order: the same messages make the same request body, as a repeat must.
      const id = (i: number) => handOffs[i]!.message!.id;
      for (const r of requests) if (r.at.length > 1) r.at.sort((a, b) => (id(a) < id(b) ? -1 : id(a) > id(b) ? 1 : 0));
      return { requests, local };
    },
    /** Sends one planned request; one report per member, in order. */
    send(handOffs: EmailHandOff[], r: Planned): Promise<EmailReport>[] {
      if (r.at.length === 1) {
        const h = handOffs[r.at[0]!]!;
        return [one(h, h.message!, r.transport)];
      }
      return many(r.at.map((i) => handOffs[i]!), r.transport);
    },
  };
}

/** One request of a claim: its transport and its messages (indexes into the claim's hand-offs). */
export interface Planned {
  transport: Transport;
  at: number[];
}
