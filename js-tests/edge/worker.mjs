// A Hono app for edge runtimes: tenant resolution (header, subdomain, verified JWT), the audit
// middleware's verified actor, and an audit entry diffed and sealed — all in the WebAssembly
// build that @usebetter-rs/core selects under the workerd/edge-light conditions.
import { Hono } from "hono";
import core from "@usebetter-rs/core";
import { resolveTenant } from "@usebetterdev/tenant";
import { betterAudit, fromBearerToken } from "@usebetterdev/audit";
import { createHonoMiddleware } from "@usebetterdev/audit/hono";
import { verifyWebhook } from "@usebetterdev/webhooks/receiver";

const SECRET = "0123456789abcdef0123456789abcdef";
const resolver = { header: "x-tenant-id", subdomain: true, jwt: { claim: "tenant_id", secret: SECRET } };
const written = [];
const audit = betterAudit({ database: { writeLog: async (log) => void written.push(log) }, auditTables: ["projects"] });

const app = new Hono();
app.use("*", createHonoMiddleware({ extractor: { actor: fromBearerToken("sub", { secret: SECRET }) } }));

app.get("/tenant", async (c) => c.json({ tenant: (await resolveTenant(c.req.raw, resolver)) ?? null, backend: core.backend, analyser: typeof core.sqlWrites }));

app.post("/projects/:id", async (c) => {
  const { before, after } = await c.req.json();
  await audit.captureLog({ tableName: "projects", operation: "UPDATE", recordId: c.req.param("id"), before, after });
  const log = written.at(-1);
  const row = { id: log.id, timestamp: log.timestamp.toISOString(), table_name: log.tableName, operation: log.operation, record_id: log.recordId, actor_id: log.actorId, before_data: log.beforeData, after_data: log.afterData, diff: log.diff };
  const EDGE_KEY = "edge-seal-key-kept-outside-the-database";
  const [seal] = core.auditSealRows([row], null, EDGE_KEY);
  const intact = core.auditVerifyRows([{ ...seal, row }], EDGE_KEY, null);
  const forged = core.auditVerifyRows([{ ...seal, row: { ...row, actor_id: "mallory" } }], EDGE_KEY, null);
  return c.json({ actorId: log.actorId ?? null, path: log.metadata?.path ?? null, diff: log.diff, seq: seal.seq, intact: intact === null, forged: forged?.kind ?? null });
});

// The webhooks receiver: the raw body verified against the signature, parsed only then.
const WEBHOOK_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
app.post("/webhook", async (c) => {
  try {
    const event = await verifyWebhook(c.req.raw, { secret: WEBHOOK_SECRET });
    return c.json({ id: event.id, timestamp: event.timestamp.getTime() / 1000, json: event.json });
  } catch (err) {
    return c.json({ code: err.code, name: err.name }, 401);
  }
});

export default app;
