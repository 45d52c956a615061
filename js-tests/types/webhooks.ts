// Webhooks, checked with tsc --strict --exactOptionalPropertyTypes --noUncheckedIndexedAccess:
// the event map is inferred from `eventTypes`, `send` takes only known event types with their
// payloads, endpoint filters only known names and prefixes, `opts.tx` the app's transaction, and
// a misspelt configuration key fails to compile.
import pg from "pg";
import { drizzle } from "drizzle-orm/node-postgres";
import { betterWebhooks, defineEventTypes, type Schema, type SendResult, type EventMap } from "@usebetterdev/webhooks";
import { drizzleWebhooksAdapter } from "@usebetterdev/webhooks/drizzle";
import { sqlExecutorAdapter } from "@usebetterdev/webhooks/sql";

type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
const assertType = <T extends true>(value: T): T => value;

const pool = new pg.Pool();
const db = drizzle(pool);
type DrizzleTx = Parameters<Parameters<typeof db.transaction>[0]>[0];

// A Standard Schema as zod, valibot or arktype declare it (only its types matter here).
declare const userCreated: {
  readonly "~standard": {
    readonly version: 1;
    readonly vendor: "example";
    readonly validate: (value: unknown) => { value: { id: string; email: string } } | { issues: ReadonlyArray<{ message: string }> };
    readonly types?: { readonly input: unknown; readonly output: { id: string; email: string } } | undefined;
  };
};

const eventTypes = defineEventTypes({
  "invoice.paid": {} as Schema<{ invoiceId: string; amountCents: number }>,
  "invoice.refund.issued": {} as Schema<{ invoiceId: string }>,
  "user.created": userCreated,
});
assertType<Equals<EventMap<typeof eventTypes>["user.created"], { id: string; email: string }>>(true);
// An entry without a schema (`{}`) takes any payload.
assertType<Equals<EventMap<{ "audit.ping": {} }>["audit.ping"], unknown>>(true);

const webhooks = betterWebhooks({
  database: drizzleWebhooksAdapter(db),
  eventTypes,
  secretsKey: process.env.BETTER_WEBHOOKS_KEY,
  network: { allowHttp: true, allowNetworks: ["127.0.0.1/32"] },
  delivery: { timeoutMs: 5_000, retrySchedule: [1, 5, 30], storeResponseBody: "never" },
  retention: { days: 14, partition: "day" },
  onEvent: (e) => console.log(e.type),
});

export async function correct(): Promise<SendResult[]> {
  const one = await webhooks.send({ eventType: "invoice.paid", payload: { invoiceId: "in_1", amountCents: 100 }, idempotencyKey: "k" });
  assertType<Equals<typeof one.id, `msg_${string}`>>(true);
  await webhooks.send({ eventType: "user.created", payload: { id: "u1", email: "a@b.c" } }, { tx: "autocommit" });
  // The application's own Drizzle transaction type is what `opts.tx` takes.
  await db.transaction(async (tx) => {
    assertType<Equals<typeof tx, DrizzleTx>>(true);
    await webhooks.send({ eventType: "invoice.refund.issued", payload: { invoiceId: "in_1" } }, { tx });
  });
  await webhooks.endpoints.create({ url: "https://example.com/hooks", eventTypes: ["invoice.*", "invoice.refund.*", "user.created", "webhook.test"] }, { tenantId: "t" });
  return webhooks.sendMany([
    { eventType: "invoice.paid", payload: { invoiceId: "in_2", amountCents: 5 } },
    { eventType: "user.created", payload: { id: "u2", email: "d@e.f" } },
  ]);
}

// A list of names: payloads are `unknown`, names still checked.
const listed = betterWebhooks({ database: sqlExecutorAdapter(pool), eventTypes: ["order.shipped", "order.lost"] });
export const shipped = listed.send({ eventType: "order.shipped", payload: { anything: [1, 2] } }, { tx: "autocommit" });
export const filtered = listed.endpoints.create({ url: "https://example.com/hooks", eventTypes: ["order.*"] });

// Mistakes that must not compile.
// @ts-expect-error: a misspelt event type.
webhooks.send({ eventType: "invoice.payd", payload: { invoiceId: "in_1", amountCents: 1 } });
// @ts-expect-error: a wrong payload field (`amount` is `amountCents`).
webhooks.send({ eventType: "invoice.paid", payload: { invoiceId: "in_1", amount: 1 } });
// @ts-expect-error: a payload field of the wrong type (Standard Schema output).
webhooks.send({ eventType: "user.created", payload: { id: 1, email: "a@b.c" } });
// @ts-expect-error: one message of a batch has the payload of another event type.
webhooks.sendMany([{ eventType: "user.created", payload: { invoiceId: "in_1", amountCents: 1 } }]);
// @ts-expect-error: `opts.tx` is the application's Drizzle transaction, not the pool.
webhooks.send({ eventType: "invoice.refund.issued", payload: { invoiceId: "in_1" } }, { tx: pool });
// @ts-expect-error: an unknown configuration key (`timoutMs` is `timeoutMs`).
betterWebhooks({ database: drizzleWebhooksAdapter(db), eventTypes, delivery: { timoutMs: 1 } });
// @ts-expect-error: an unknown top-level key (`secretKey` is `secretsKey`).
betterWebhooks({ database: drizzleWebhooksAdapter(db), eventTypes, secretKey: "x" });
// @ts-expect-error: a pattern on an unknown prefix.
webhooks.endpoints.create({ url: "https://example.com/hooks", eventTypes: ["payment.*"] });
// @ts-expect-error: a pattern must name a whole prefix, not a full event type.
webhooks.endpoints.create({ url: "https://example.com/hooks", eventTypes: ["invoice.paid.*"] });
// @ts-expect-error: a name that is not in the list.
listed.send({ eventType: "order.found", payload: null }, { tx: "autocommit" });

// The Fastify plugin and the Hono handler fit where those frameworks take them.
import Fastify from "fastify";
import { Hono } from "hono";
import { webhookReceiver as fastifyReceiver } from "@usebetterdev/webhooks/fastify";
import { webhookReceiver as honoReceiver } from "@usebetterdev/webhooks/hono";
const receiverOptions = { secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", handler: async () => {} };
void Fastify().register(fastifyReceiver({ ...receiverOptions, path: "/hook" }), { prefix: "/webhooks" });
new Hono().post("/webhooks", honoReceiver(receiverOptions));

// Audit mirroring takes a betterAudit() instance, alone or with the deliveries to record.
import { betterAudit } from "@usebetterdev/audit";
import { drizzleAuditAdapter } from "@usebetterdev/audit/drizzle";
const audit = betterAudit({ database: drizzleAuditAdapter(db, { seal: true }), auditTables: [] });
betterWebhooks({ database: drizzleWebhooksAdapter(db), eventTypes, audit });
betterWebhooks({ database: drizzleWebhooksAdapter(db), eventTypes, audit: { instance: audit, deliveries: "final" } });
// @ts-expect-error: deliveries is "none", "final" or "all".
betterWebhooks({ database: drizzleWebhooksAdapter(db), eventTypes, audit: { instance: audit, deliveries: "some" } });
// @ts-expect-error: not an audit instance.
betterWebhooks({ database: drizzleWebhooksAdapter(db), eventTypes, audit: { deliveries: "final" } });

// The portal routes mount where each framework takes a handler, a middleware or a plugin.
import { portalHandlers as honoPortal } from "@usebetterdev/webhooks/hono";
import { portalHandlers as fastifyPortal } from "@usebetterdev/webhooks/fastify";
import { portalHandlers as nextPortal } from "@usebetterdev/webhooks/next";
new Hono().all("/api/webhooks/*", honoPortal(webhooks, { authorize: (c) => c.req.raw.headers.get("x-tenant"), basePath: "/api/webhooks" }));
void Fastify().register(fastifyPortal(webhooks, { authorize: () => null }), { prefix: "/api/webhooks" });
export const { GET, POST, PATCH, DELETE } = nextPortal(webhooks, { authorize: (req: Request) => req.headers.get("x-tenant") });
// @ts-expect-error: authorize is required.
honoPortal(webhooks, {});
// Endpoint updates: null clears an optional field; filters are still checked.
void webhooks.endpoints.update("ep_x", { description: null, eventTypes: ["invoice.*"] });
// @ts-expect-error: a pattern on an unknown prefix.
void webhooks.endpoints.update("ep_x", { eventTypes: ["payment.*"] });
// @ts-expect-error: the secret changes through rotateSecret.
void webhooks.endpoints.update("ep_x", { secret: "whsec_x" });
