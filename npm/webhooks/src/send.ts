// `send` / `sendMany`: the payload is checked and serialised here (Standard Schema, JSON), the
// core decides everything else and hands back one statement at a time.
import { idBytes, type Row } from "./core";
import type { WebhookSendItem, WebhookSendStep } from "@usebetter-rs/core";
import { inTransaction, type CallOptions, type Shared } from "./context";
import { run } from "./db";
import { guard, WebhooksSendError } from "./errors";

import type { SendInput } from "./types";

export type { SendInput };
export interface SendResult {
  id: `msg_${string}`;
  status: "queued" | "duplicate";
  createdAt: Date;
}

type Validator = { "~standard": { validate(v: unknown): unknown } };
export type Validators = ReadonlyMap<string, Validator>;

/** The payload's text, and whether it is JSON (else a raw envelope's string, sent as is). */
type Serialised = { text: string; json: boolean };

async function serialise(input: SendInput, field: string, s: Shared, validators: Validators): Promise<Serialised> {
  const schema = validators.get(input.eventType);
  if (schema && s.settings.validatePayloads) {
    const result = (await schema["~standard"].validate(input.payload)) as { issues?: ReadonlyArray<{ message: string; path?: ReadonlyArray<unknown> }> };
    if (result.issues) {
      const list = result.issues.map((i) => `${(i.path ?? []).map((p) => (typeof p === "object" && p !== null && "key" in p ? String((p as { key: unknown }).key) : String(p))).join(".") || "(root)"}: ${i.message}`);
      throw new WebhooksSendError("WEBHOOKS_PAYLOAD_INVALID", `invalid \`${field}\` for ${input.eventType}: ${list.join("; ")}`);
    }
  }
  if (s.settings.envelope === "raw" && typeof input.payload === "string") return { text: input.payload, json: false };
  try {
    const text = JSON.stringify(input.payload);
    if (text === undefined) throw new TypeError("not a JSON value");
    return { text, json: true };
  } catch (err) {
    throw new WebhooksSendError("WEBHOOKS_PAYLOAD_INVALID", `invalid \`${field}\`: ${(err as Error).message} (payloads are JSON: no bigint, no cycles)`);
  }
}

/** The item's fields besides its payload. */
function fields(input: SendInput): Omit<WebhookSendItem, "data"> {
  const out: Omit<WebhookSendItem, "data"> = { eventType: input.eventType };
  if (input.idempotencyKey !== undefined) out.idempotencyKey = input.idempotencyKey;
  if (input.orderingKey !== undefined) out.orderingKey = input.orderingKey;
  if (input.endpoints !== undefined) out.endpoints = input.endpoints;
  if (input.occurredAt !== undefined) out.occurredAtMs = input.occurredAt.getTime();
  if (input.contentType !== undefined) out.contentType = input.contentType;
  if (input.deliverAfter !== undefined) out.deliverAfterMs = input.deliverAfter.getTime();
  return out;
}

/**
 * One item as JSON text for the core. A JSON payload goes in as the JSON it is (`json`, last,
 * so an error in another field is named first) instead of a string holding it (`data`):
 * escaping a thousand payloads here and unescaping them there was the largest part of a
 * `sendMany` outside the database.
 */
function itemText(input: SendInput, payload: Serialised): string {
  const rest = fields(input);
  if (!payload.json) return JSON.stringify({ ...rest, data: payload.text } satisfies WebhookSendItem);
  return `${JSON.stringify(rest).slice(0, -1)},"json":${payload.text}}`;
}

/** `mode: "manage"` lets an operator's call with `{ tenantId }` run in its own system-context transaction. */
export async function sendMany(s: Shared, validators: Validators, inputs: SendInput[], many: boolean, opts?: CallOptions, mode: "send" | "manage" = "send"): Promise<SendResult[]> {
  if (!Array.isArray(inputs)) throw new WebhooksSendError("WEBHOOKS_INVALID_ARGUMENT", "invalid `inputs`: expected an array of messages");
  const items: string[] = [];
  const payloads: string[] = [];
  for (const [i, input] of inputs.entries()) {
    if (typeof input !== "object" || input === null) throw new WebhooksSendError("WEBHOOKS_INVALID_ARGUMENT", `invalid \`${many ? `inputs[${i}]` : "input"}\`: expected an object`);
    const payload = await serialise(input, many ? `inputs[${i}].payload` : "payload", s, validators);
    items.push(itemText(input, payload));
    payloads.push(payload.text);
  }
  let step = guard(WebhooksSendError, () => JSON.parse(s.core.sendBegin(`[${items.join(",")}]`, many, Date.now(), idBytes(items.length * 10))) as WebhookSendStep);
  const results = await inTransaction(s, opts, WebhooksSendError, async (ex, tenant): Promise<SendResult[]> => {
    while (step.run) {
      const rows = await run(ex, s.statements, step.run.statement, [tenant, ...withPayloads(step.run, payloads)]);
      const done = step.queued && queuedResults(step.queued, rows);
      if (done) return done;
      const state = step.state ?? "";
      step = guard(WebhooksSendError, () => JSON.parse(s.core.sendNext(state, JSON.stringify(rows))) as WebhookSendStep);
    }
    return (step.results ?? []).map((r) => ({ id: r.id as `msg_${string}`, status: r.status, createdAt: new Date(r.createdAtMs ?? Date.now()) }));
  }, mode, step.run !== undefined && !step.last);
  s.wake();
  return results;
}

/**
 * The statement's parameters with the payloads where the core asks for them: it hashed them
 * and built each envelope's head, but does not hand a thousand payloads back to be parsed out
 * of its answer again; the statement joins head, payload and tail.
 */
function withPayloads(run: NonNullable<WebhookSendStep["run"]>, texts: string[]): unknown[] {
  const fill = run.payloads;
  if (!fill) return run.params;
  const chosen = fill.items ? fill.items.map((i) => texts[i]) : texts;
  // A body must never be stored without its payload (the statement would write NULL): a miss
  // here is a bug between this package and its core.
  if (chosen.length === 0 || chosen.some((t) => t === undefined)) throw Object.assign(new Error("the core asked for a payload this call does not have"), { code: "INTERNAL" });
  run.params[fill.param] = fill.separator === undefined ? chosen[0] : (chosen as string[]).join(fill.separator);
  return run.params;
}

/**
 * The results the core announced with the INSERT (`step.queued`), from its rows: one boundary
 * crossing fewer per send. Rows of another shape go to `sendNext`, whose error names them.
 */
function queuedResults(ids: string[], rows: Row[]): SendResult[] | undefined {
  if (rows.length !== ids.length) return undefined;
  const out: SendResult[] = [];
  for (const [i, id] of ids.entries()) {
    const ms = rows[i]!.created_ms;
    if (typeof ms !== "number") return undefined;
    out.push({ id: id as `msg_${string}`, status: "queued", createdAt: new Date(ms) });
  }
  return out;
}
