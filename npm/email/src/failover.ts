// `failover([a, b, c], options)`: one transport made of several, tried in order within one
// attempt while the one before definitely did not take the message (spec §8.5). After an
// ambiguous answer it stays: the message may have been accepted, and another provider would
// deliver it a second time; the retry goes to the same transport (with the same idempotency
// key where it has one). A member failing `breaker.failures` times in a row at the transport
// level is skipped for `coolOffMs`, then trusted with one message (the probe) before the others.
import { EmailConfigError } from "./errors";
import { rateOption, type HandOffOutcome, type HandOffResult, type PreparedMessage, type Transport, type TriedTransport } from "./types";

export interface FailoverOptions {
  /** Outcomes that move a message on to the next transport (default: retryable, auth_failed, throttled). */
  advanceOn?: HandOffOutcome[];
  /** `"stay"` (default): an ambiguous answer ends the attempt on that transport. */
  onAmbiguous?: "stay" | "advance";
  /** Skips a failing member for a while (default `{ failures: 5, coolOffMs: 60000 }`); `false`: never. */
  breaker?: { failures?: number; coolOffMs?: number } | false;
  /** The breaker's clock in milliseconds (default `Date.now`); tests pass a fake one. */
  now?: () => number;
  /** Hand-offs per second (default: the lowest of the members' own, so none is ever exceeded). */
  maxPerSecond?: number;
  name?: string;
}

/** Outcomes that say the transport, not the message, failed. */
const TRANSPORT_FAILURES: ReadonlySet<string> = new Set(["retryable", "auth_failed", "throttled", "ambiguous"]);
// Never `sent`: a message one member took must not go on to the next.
const ADVANCE_OUTCOMES: ReadonlySet<string> = new Set(["retryable", "auth_failed", "throttled", "rejected_permanent", "rejected_recipient", "ambiguous"]);

interface Health {
  failures: number;
  /** While set and in the future, the member is skipped. */
  openUntil: number;
  probing: boolean;
}

function lowest(rates: (number | undefined)[]): number | undefined {
  const set = rates.filter((r): r is number => r !== undefined);
  return set.length === 0 ? undefined : Math.min(...set);
}

function bad(field: string, why: string): EmailConfigError {
  return new EmailConfigError("EMAIL_INVALID_CONFIG", `invalid \`failover.${field}\`: ${why}`);
}

function check(transports: readonly Transport[], o: FailoverOptions): void {
  if (!Array.isArray(transports) || transports.length < 2) throw bad("transports", "expected an array of at least two transports");
  for (const [i, t] of transports.entries()) {
    if (!t || typeof t.send !== "function" || typeof t.name !== "string") throw bad(`transports[${i}]`, "expected a transport (smtp(), resend(), …)");
  }
  const names = transports.map((t) => t.name);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup !== undefined) throw bad("transports", `two transports are named ${JSON.stringify(dup)}; give each its own \`name\``);
  for (const a of o.advanceOn ?? []) if (!ADVANCE_OUTCOMES.has(a)) throw bad("advanceOn", `unknown outcome ${JSON.stringify(a)}`);
  if (o.onAmbiguous !== undefined && o.onAmbiguous !== "stay" && o.onAmbiguous !== "advance") throw bad("onAmbiguous", 'expected "stay" or "advance"');
  if (o.breaker) {
    const { failures = 5, coolOffMs = 60_000 } = o.breaker;
    if (!Number.isInteger(failures) || failures < 1) throw bad("breaker.failures", "expected an integer of at least 1");
    if (!Number.isFinite(coolOffMs) || coolOffMs < 0) throw bad("breaker.coolOffMs", "expected milliseconds, at least 0");
  }
}

/** A transport that hands each message to the first of `transports` able to take it. */
export function failover(transports: readonly Transport[], options: FailoverOptions = {}): Transport {
  check(transports, options);
  const advanceOn = new Set<string>(options.advanceOn ?? ["retryable", "auth_failed", "throttled"]);
  if (options.onAmbiguous === "advance") advanceOn.add("ambiguous");
  else advanceOn.delete("ambiguous");
  const breaker = options.breaker === false ? null : { failures: options.breaker?.failures ?? 5, coolOffMs: options.breaker?.coolOffMs ?? 60_000 };
  const now = options.now ?? Date.now;
  const health = new Map<Transport, Health>(transports.map((t) => [t, { failures: 0, openUntil: 0, probing: false }]));

  /** Whether `t` may take a message now: `"probe"` when this call holds a cooled-off member's
   *  one trial (only its holder's answer decides the breaker), `true` for a closed breaker. */
  const admit = (t: Transport): boolean | "probe" => {
    const h = health.get(t)!;
    if (!breaker || h.failures < breaker.failures) return true;
    if (h.probing || now() < h.openUntil) return false;
    h.probing = true;
    return "probe";
  };
  const learn = (t: Transport, outcome: string, probe: boolean): void => {
    const h = health.get(t)!;
    if (probe) h.probing = false;
    if (!TRANSPORT_FAILURES.has(outcome)) {
      h.failures = 0;
      return;
    }
    h.failures++;
    // Any failure at or past the limit (a failed probe, or a late answer to a call made before
    // the breaker opened) opens it (again).
    if (breaker && h.failures >= breaker.failures) h.openUntil = now() + breaker.coolOffMs;
  };

  async function one(m: PreparedMessage, signal: AbortSignal): Promise<HandOffResult> {
    const tried: TriedTransport[] = [];
    const order = transports.flatMap((t) => {
      const a = admit(t);
      return a ? [{ t, probe: a === "probe" }] : [];
    });
    if (order.length === 0) {
      return { outcome: "retryable", detail: `every transport of ${name} is cooling off after repeated failures (${transports.map((t) => t.name).join(", ")})` };
    }
    for (const [i, { t, probe }] of order.entries()) {
      const started = Date.now();
      let r: HandOffResult;
      try {
        r = (await t.send([m], signal))[0] ?? { outcome: "ambiguous", detail: "the transport returned no result" };
      } catch (err) {
        r = { outcome: "ambiguous", detail: `transport ${t.name} threw: ${(err as Error)?.message ?? String(err)}` };
      }
      learn(t, r.outcome, probe);
      const last = i === order.length - 1;
      if (last || !advanceOn.has(r.outcome) || signal.aborted) {
        // The members not reached keep their probe for the next message.
        for (const rest of order.slice(i + 1)) if (rest.probe) health.get(rest.t)!.probing = false;
        // A nested failover answers with its own member and what it tried first.
        return { ...r, transport: r.transport ?? t.name, tried: [...tried, ...(r.tried ?? [])] };
      }
      tried.push(...(r.tried ?? []));
      const entry: TriedTransport = { transport: r.transport ?? t.name, outcome: r.outcome as TriedTransport["outcome"], startedAtMs: started, durationMs: Date.now() - started };
      if (r.status !== undefined) entry.status = r.status;
      if (r.detail !== undefined) entry.detail = r.detail;
      tried.push(entry);
    }
    throw new Error("unreachable: the last transport always answers");
  }

  const name = options.name ?? "failover";
  return {
    name,
    kind: transports[0]!.kind,
    members: transports,
    capabilities: {
      idempotency: transports.every((t) => t.capabilities.idempotency),
      batch: 1,
      rawMime: transports.every((t) => t.capabilities.rawMime),
      tags: transports.every((t) => t.capabilities.tags),
      edge: transports.every((t) => t.capabilities.edge),
    },
    ...rateOption("failover()", options.maxPerSecond ?? lowest(transports.map((t) => t.maxPerSecond))),
    // Each member may use its whole time in turn.
    timeoutMs: transports.reduce((sum, t) => sum + (t.timeoutMs ?? 15_000), 0),
    async send(batch: PreparedMessage[], signal: AbortSignal): Promise<HandOffResult[]> {
      const out: HandOffResult[] = [];
      for (const m of batch) out.push(await one(m, signal));
      return out;
    },
  };
}
