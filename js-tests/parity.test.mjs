// suite: once (scripts/test.sh runs it once; the others run on each backend)
// Native and wasm must give identical results (and identical errors) for the same inputs.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { generateKeyPairSync } from "node:crypto";
import { loadBackend, sameOnBoth } from "./helpers/backends.mjs";
import { SECRET, signJwt, readKey, nowSeconds } from "./helpers/keys.mjs";

const native = loadBackend("native");
const wasm = loadBackend("wasm");

const same = sameOnBoth(native, wasm, assert.deepEqual);

// Inputs of the email entry points: an SNS message, a token key and an ed25519 DKIM key.
const SNS_MESSAGE = JSON.stringify({ Type: "Notification", MessageId: "m", TopicArn: "arn:aws:sns:us-east-1:1:t", Message: "{}", Timestamp: "t", SignatureVersion: "2", Signature: "AA==", SigningCertURL: "https://sns.us-east-1.amazonaws.com/c.pem" });
const TOKEN_KEY = Buffer.alloc(32, 7).toString("base64");
const DKIM_KEY = generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" });

const configs = [
  { header: "x-tenant-id" },
  { path: "/t/:tenantId/*", subdomain: true },
  { path: { pattern: "/org/:org/*", segmentIndex: 1 }, subdomain: { segmentIndex: 1 } },
  { header: "x-tenant-id", jwt: { claim: "tenant_id", secret: SECRET, leeway: 5 } },
  { jwt: { claim: "tenant_id", jwks: JSON.parse(readKey("jwks.json")), audience: ["api"] } },
  { jwt: "tenant_id" },
  { jwt: { claim: "tenant_id", unverified: true } },
  { header: "" },
  { header: 1 },
  { path: "x" },
  { subdomain: "yes" },
  { jwt: { claim: "t", secret: "s", unverified: true } },
];

const now = nowSeconds();
const tokens = [
  signJwt({ tenant_id: "acme", exp: now + 100 }),
  signJwt({ tenant_id: "ACME-2", aud: "api" }, "RS256", { kid: "rsa-1" }),
  signJwt({ tenant_id: "acme", aud: "api" }, "ES256"),
  signJwt({ tenant_id: "", exp: now + 100 }),
  signJwt({ tenant_id: "acme", exp: now - 100 }),
  signJwt({ tenant_id: "acme" }, "none"),
  "not.a.jwt",
];

const requests = [
  { headers: { "X-Tenant-Id": " Acme " } },
  { headers: { "x-tenant-id": ["a1", "b2"] } },
  { headers: { "x-tenant-id": "bad!" }, host: "acme.example.com" },
  { headers: {}, path: "/t/ac%6De/x", host: "www.example.com" },
  { headers: {}, url: "https://eu.acme.example.com/org/globex/y" },
  { headers: {}, host: "[::1]:3000", path: "/t/%ff" },
  ...tokens.map((t) => ({ headers: { authorization: `Bearer ${t}` } })),
  { headers: {}, claims: { tenant_id: "pre-verified" } },
  { headers: 5 },
];

test("resolution: every config × request gives the same result", () => {
  let compared = 0;
  for (const config of configs) {
    for (const request of requests) {
      same(JSON.stringify([config, request]), (b) => b.resolveTenant(request, config));
      compared++;
    }
  }
  assert.equal(compared, configs.length * requests.length);
});

test("JWT verification: same claims, same error codes and messages", () => {
  const options = [
    { secret: SECRET },
    { publicKey: readKey("rsa.pub") },
    { publicKey: readKey("ec.pub"), algorithms: ["ES256"] },
    { jwks: readKey("jwks.json"), issuer: "x" },
    { secret: "short" },
    {},
    { publicKey: "junk" },
  ];
  const codes = new Set();
  for (const o of options) {
    for (const t of tokens) {
      const r = same(JSON.stringify([o, t]), (b) => b.verifyJwt(t, o));
      codes.add(r.code ?? "ok");
    }
  }
  // The corpus really exercises success and several distinct failures.
  assert.ok(codes.has("ok") && codes.size >= 6, [...codes].join(","));
});

test("migration SQL: byte-identical output and errors", () => {
  const inputs = [
    { tenantTables: ["projects", "tasks"] },
    { tenantTables: ["billing.invoices", 'a"b', "ünïcode"], schema: "app" },
    { tenantTables: ["projects"], hardened: true },
    { tenantTables: [""] },
    { tenantTables: ["x".repeat(64)] },
    { tenantTables: "projects" },
    { tenantTables: ["tenants"] },
    { tenantTables: [], extra: 1 },
  ];
  for (const input of inputs) {
    same(JSON.stringify(input), (b) => b.generateMigrationSql(input));
    same(`add ${JSON.stringify(input)}`, (b) => b.generateAddTableSql("tasks", { ...input, tenantTables: undefined }));
  }
});

test("audit primitives: identical diffs, canonical JSON, durations, cursors and compiled queries", () => {
  const pairs = [
    { before: { id: 1, name: "a", prefs: { x: [1, { y: 2 }] } }, after: { id: 1, name: "b", prefs: { x: [1, { y: 2 }] }, added: null } },
    { before: {}, after: { big: 12345678901234, f: 1.5, s: "é\u0000" } },
  ];
  const d = same("auditChangedFieldsJson", (b) => b.auditChangedFieldsJson(JSON.stringify(pairs)));
  assert.deepEqual(JSON.parse(d.ok), [["name", "added"], ["big", "f", "s"]]);
  same("canonicalJson", (b) => b.canonicalJson({ b: [1, { d: 2, c: 1 }], a: "x" }));
  for (const input of ["4h", "30d", "2w", "1m", "1y", "0d", "5s", "1.5d"]) {
    same(`parseDuration ${input}`, (b) => b.parseDuration(input, "2026-03-31T12:00:00.123456Z"));
  }
  const cursor = same("encodeCursor", (b) => b.encodeCursor("2026-01-01T00:00:00.123456Z", "0F8FAD5B-D9CB-469F-A165-70867728950E"));
  same("decodeCursor", (b) => b.decodeCursor(cursor.ok));
  same("decodeCursor bad", (b) => b.decodeCursor("bm9wZQ=="));
  const spec = {
    filters: { resource: { tableName: "users" }, actorIds: ["a", "b"], compliance: ["gdpr"], since: { duration: "7d" }, searchText: "50%" },
    limit: 20,
    cursor: cursor.ok,
    sortOrder: "desc",
  };
  const compiled = same("compileAuditQuery", (b) => b.compileAuditQuery(spec, { now: "2026-03-31T12:00:00Z" }));
  // resource, actors, compliance, since, search, cursor (timestamp, id), limit
  assert.equal(compiled.ok.params.length, 8);
  same("compileAuditQuery bad limit", (b) => b.compileAuditQuery({ filters: {}, limit: 5000 }, {}));
});

// Every export with a valid call and the kind of each argument. Each argument is replaced in
// turn by values of the wrong type; both backends must refuse them with INVALID_ARGUMENT and a
// message naming the argument (never a raw N-API status or a trap in the wasm glue).
const token = tokens[0];
const sealRow = { id: "1", table_name: "users", timestamp: "2026-01-01T00:00:00Z" };
const emailMessage = {
  from: "Acme <no-reply@acme.example>",
  to: "jane@example.com",
  subject: "Hi",
  text: "Body",
  messageId: "eml_1@acme.example",
  dateMs: 1_800_000_000_000,
  attachments: [{ filename: "a.bin" }],
};
const EMAIL_CONFIG = { from: "Acme <hello@acme.example>", transports: ["smtp"], unsubscribe: { baseUrl: "https://app.example/email/u" }, secretsKey: TOKEN_KEY };
const SUPPRESSION_ROW = {
  id: "5e0d1c2b-3a49-4867-9f5a-4b3c2d1e0f9a",
  tenant_id: null,
  address: "jane@example.com",
  category: null,
  reason: "hard_bounce",
  source: "api",
  note: null,
  expires_at: null,
  created_at: "2026-12-01T10:00:00.123456Z",
};
const CLAIMED_ROW = {
  id: "0f8fad5b-d9cb-469f-a165-70867728950e",
  tenant_id: null,
  created_at: "2026-11-30 12:00:00.123456+00",
  category: "transactional",
  subject: "Hi",
  html: "<p>Hi</p>",
  text_body: "Hi",
  headers: { from: { address: "hello@acme.example", name: "Acme" }, to: [{ address: "jane@example.com" }], cc: [], replyTo: [], custom: [["X-Trace", "1"]] },
  message_id_header: "<eml_1@acme.example>",
  date_header: "2026-11-30T12:00:00.000Z",
  tags: null,
  attempt_count: 1,
  lease_token: "5c7a0b2e-1f1a-4a53-9d4f-3b7a4c1e2d10",
  expires_at: null,
  recipients: [{ kind: "to", address: "jane@example.com", key: "jane@example.com", status: "pending", blocked: null }],
  attachments: [],
};
const calls = {
  TenantResolver: { args: [["tenantResolver", "struct", { header: "x" }]], call: (b, [c]) => new b.TenantResolver(c).jwtUnverified },
  "TenantResolver#resolve": { args: [["request", "struct", { headers: {} }]], call: (b, [r]) => new b.TenantResolver({ header: "x" }).resolve(r) },
  resolveTenant: { args: [["request", "struct", { headers: {} }], ["tenantResolver", "struct", { header: "x" }]] },
  verifyJwt: { args: [["token", "string", token], ["options", "struct", { secret: SECRET }]] },
  bearerToken: { args: [["authorization", "optString", `Bearer ${token}`]] },
  bearerClaim: { args: [["authorization", "optString", `Bearer ${token}`], ["claim", "string", "sub"], ["verify", "optStruct", { secret: SECRET }]] },
  generateMigrationSql: { args: [["config", "struct", { tenantTables: ["a"] }]] },
  generateAddTableSql: { args: [["table", "string", "a"], ["config", "struct", {}]] },
  normalizeTenantId: { args: [["raw", "string", "acme"]] },
  checkSlug: { args: [["slug", "string", "acme"]] },
  tenantsSql: { args: [["table", "optString", "org_units"]] },
  auditChangedFieldsJson: { args: [["pairsJson", "string", "[]"]] },
  auditDiffSql: { args: [["before", "string", "b.v"], ["after", "string", "a.v"]] },
  auditContract: { args: [] },
  auditInsertSql: { args: [["columns", "struct", ["id", "diff"]], ["rows", "struct", [["id"]]], ["sealed", "bool", false]] },
  auditCaptureSql: { args: [["spec", "struct", { table: { name: "t", columns: [["id", "int8"]], key: ["id"] }, operation: "UPDATE", inline: { tenant: true } }]] },
  auditTableSql: { args: [["table", "struct", { schema: "app", name: "t", columns: [["id", "int8", "id"]], key: ["id"] }]] },
  auditSealRows: { args: [["rows", "struct", [sealRow]], ["head", "optStruct", null], ["key", "optString", undefined]] },
  auditVerifyRows: { args: [["rows", "struct", []], ["key", "optString", undefined], ["anchor", "optStruct", null]] },
  canonicalJson: { args: [["value", "any", { b: 1, a: [1.5, "x"] }]] },
  parseDuration: { args: [["input", "string", "30d"], ["reference", "optString", "2026-01-01T00:00:00Z"]] },
  encodeCursor: { args: [["timestamp", "string", "2026-01-01T00:00:00Z"], ["id", "string", "0f8fad5b-d9cb-469f-a165-70867728950e"]] },
  decodeCursor: { args: [["cursor", "string", native.encodeCursor("2026-01-01T00:00:00Z", "0f8fad5b-d9cb-469f-a165-70867728950e")]] },
  compileAuditQuery: { args: [["spec", "struct", { filters: {} }], ["options", "struct", {}]] },
  sqlWrites: { args: [["sql", "string", "DELETE FROM t"]] },
  sqlEffects: { args: [["sql", "string", "DELETE FROM t"]] },
  tenantSignature: { args: [["key", "string", "k".repeat(32)], ["tenantId", "string", "acme"], ["binding", "string", "42:20260101000000000001"]] },
  bypassSignature: { args: [["key", "string", "k".repeat(32)], ["binding", "string", "42:20260101000000000001"]] },
  tenantContract: { args: [] },
  scopeBindingSql: { args: [["begin", "optBool", true]] },
  scopeSql: {
    args: [
      ["tenantId", "optString", "0f8fad5b-d9cb-469f-a165-70867728950e"],
      ["key", "optString", "k".repeat(32)],
      ["binding", "optString", "42:20260101000000000001"],
      ["inline", "optBool", false],
      ["statementTimeoutMs", "optMs", 5000],
      ["lockTimeoutMs", "optMs", 250],
      ["readOnly", "optBool", false],
    ],
  },
  scopeIsolationSql: { args: [] },
  sqlReadsAlone: { args: [["sql", "string", "select 1"]] },
  sqlSetsSession: { args: [["sql", "string", "reset all"]] },
  auditSealKey: { args: [["key", "optString", "k".repeat(32)], ["unkeyed", "bool", false], ["optIn", "string", "seal: { unkeyed: true }"]] },
  auditChainSql: { args: [["logs", "optString", "audit_logs"], ["checkpoints", "optString", "audit_chain_checkpoints"]] },
  auditStoreSql: { args: [["logs", "optString", "audit_logs"]] },
  redactEntries: { args: [["rule", "struct", { redact: ["a"] }], ["entries", "struct", [{ after: { a: 1 } }]]] },
  EnrichmentRegistry: { args: [["auditTables", "struct", ["users"]]], call: (b, [t]) => typeof new b.EnrichmentRegistry(t) },
  "EnrichmentRegistry#register": {
    args: [["table", "string", "users"], ["operation", "string", "INSERT"], ["config", "struct", { label: "x" }]],
    call: (b, a) => new b.EnrichmentRegistry(["users"]).register(...a),
  },
  "EnrichmentRegistry#resolve": {
    args: [["table", "string", "users"], ["operation", "string", "INSERT"]],
    call: (b, a) => new b.EnrichmentRegistry(["users"]).resolve(...a),
  },
  // Webhooks. Arguments of kind `typed` are declared with N-API/wasm-bindgen types (numbers,
  // booleans, byte arrays) in the bindings, which refuse a wrong type with the runtime's own
  // error instead of INVALID_ARGUMENT; until they take `Unknown` like the others, only their
  // valid values are exercised here. The constructor's `config` is refused as
  // WEBHOOKS_INVALID_CONFIG naming `config` (the product's code for a bad configuration).
  Webhooks: { args: [["config", "typed", {}], ["requireEventTypes", "typed", false]], call: (b, [c, r]) => new b.Webhooks(c, r).settings().headers },
  "Webhooks#statements": { args: [], call: (b) => new b.Webhooks({}, false).statements().inboxInsert },
  "Webhooks#checkAddresses": { args: [["addresses", "struct", ["8.8.8.8", "10.0.0.1"]]], call: (b, [a]) => new b.Webhooks({}, false).checkAddresses(a) },
  "Webhooks#nextAttempt": {
    args: [["attempts", "typed", 1], ["outcome", "struct", "timeout"], ["retryAfterSecs", "typed", null], ["nowMs", "typed", 0], ["u", "typed", 0]],
    call: (b, a) => new b.Webhooks({}, false).nextAttempt(...a),
  },
  webhookSign: { args: [["input", "struct", { id: "msg_1", timestamp: 1, body: "{}", secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" }]] },
  webhookVerify: {
    args: [["headers", "struct", [["webhook-id", "msg_1"], ["webhook-timestamp", "1"], ["webhook-signature", "v1,AA=="]]], ["body", "typed", new Uint8Array(2)], ["options", "struct", { secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", now: 1 }]],
    call: (b, a) => {
      try {
        return b.webhookVerify(...a);
      } catch (err) {
        // A well-formed call with a wrong signature: the verdict, not an argument error.
        if (err.code === "WEBHOOK_BAD_SIGNATURE") return err.code;
        throw err;
      }
    },
  },
  webhookGenerateSecret: { args: [["scheme", "struct", "v1"], ["random", "typed", new Uint8Array(32)]] },
  webhookClassifyAddress: { args: [["address", "string", "10.0.0.1"]] },
  webhookClassifyOutcome: { args: [["status", "typed", 503], ["failure", "optStruct", null]] },
  webhookRetryAfter: { args: [["value", "optString", "120"], ["nowMs", "typed", 0]] },
  webhookId: { args: [["kind", "struct", "message"], ["id", "string", "0f8fad5b-d9cb-469f-a165-70867728950e"], ["toPrefixed", "typed", true]] },
  emailSigV4: {
    args: [["request", "struct", { method: "POST", host: "email.us-east-1.amazonaws.com", path: "/v2/email/outbound-emails", headers: [["content-type", "application/json"]], body: "{}", region: "us-east-1", service: "ses", accessKeyId: "AKID", secretAccessKey: "s", nowMs: 0 }]],
  },
  emailVerifyEvent: { args: [["provider", "string", "postmark"], ["headers", "struct", [["authorization", "Basic aDpw"]]], ["body", "typed", new Uint8Array(2)], ["options", "struct", { username: "h", password: "p", now: 0 }]] },
  emailSnsCertUrl: { args: [["body", "typed", new TextEncoder().encode(SNS_MESSAGE)], ["options", "struct", { topicArns: ["arn:aws:sns:us-east-1:1:t"], now: 0 }]] },
  // `tokenKey` is a string or `{ current, previous }`: any JSON shape is read, then judged.
  emailUnsubscribeToken: { args: [["tokenKey", "any", TOKEN_KEY], ["fields", "struct", { address: "a@b.c", category: "news", issuedAt: 1 }], ["nonce", "typed", new Uint8Array(24)]] },
  emailOpenUnsubscribeToken: {
    args: [["tokenKey", "any", TOKEN_KEY], ["token", "string", "u1.AAAA"]],
    call: (b, a) => {
      try {
        return b.emailOpenUnsubscribeToken(...a);
      } catch (err) {
        // A well-formed call with a token that does not open: the verdict, not an argument error.
        if (err.code === "EMAIL_UNSUBSCRIBE_TOKEN_INVALID") return err.code;
        throw err;
      }
    },
  },
  emailUnsubscribeHeaders: { args: [["baseUrl", "string", "https://a.io"], ["token", "string", "u1.x"], ["mailto", "optString", null]] },
  emailDkimSign: { args: [["message", "typed", new TextEncoder().encode("From: a@b.c\r\n\r\nhi\r\n")], ["options", "struct", { domain: "b.c", selector: "s", privateKey: DKIM_KEY }], ["random", "typed", new Uint8Array(32)]] },
  // Email. `contents` holds one Uint8Array (or null) per attachment.
  emailParseAddress: { args: [["input", "any", "Jane <jane@example.com>"], ["options", "optStruct", { smtpUtf8: false }]] },
  emailRecipients: { args: [["input", "struct", { to: "a@x.example", bcc: ["A@x.example"] }], ["options", "optStruct", { maxRecipients: 5 }]] },
  emailBuildMessage: { args: [["message", "struct", emailMessage], ["options", "optStruct", {}], ["contents", "optBytesList", [new Uint8Array([1, 2, 3])]]] },
  emailHtmlToText: { args: [["html", "string", "<p>Hi <a href=\"https://a.io\">there</a></p><ul><li>x</li></ul>"]] },
  emailMessageSize: { args: [["message", "struct", emailMessage], ["options", "optStruct", {}], ["contents", "optBytesList", [new Uint8Array([1, 2, 3])]]] },
  // The send path and the worker's decisions: the compiled configuration, then a send's first
  // statement, a claimed row's MIME and a report's record parameters.
  Email: { args: [["config", "typed", EMAIL_CONFIG]], call: (b, [c]) => new b.Email(c).settings().categories },
  "Email#statements": { args: [], call: (b) => Object.keys(new b.Email(EMAIL_CONFIG).statements()).sort() },
  "Email#sendBegin": {
    args: [["inputs", "string", JSON.stringify([{ to: "Jane <jane@example.com>", subject: "Hi", text: "Body", idempotencyKey: "k" }])], ["many", "typed", false], ["nowMs", "typed", 1_800_000_000_000], ["random", "typed", new Uint8Array(10)]],
    call: (b, a) => new b.Email(EMAIL_CONFIG).sendBegin(...a),
  },
  "Email#handOff": { args: [["rows", "struct", [CLAIMED_ROW]]], call: (b, [rows]) => new b.Email(EMAIL_CONFIG).handOff(rows) },
  emailProviderRequest: {
    args: [["kind", "string", "resend"], ["message", "struct", { id: "eml_1", from: { address: "a@acme.example", name: "Acme, Inc" }, to: [{ address: "j@example.com" }], subject: "Hi", text: "Body", idempotencyKey: "eml_1", headers: [["X-A", "1"]] }], ["options", "struct", { apiKey: "re_1", baseUrl: "http://127.0.0.1:1" }]],
  },
  emailClassifyResponse: { args: [["kind", "string", "resend"], ["status", "typed", 429], ["headers", "struct", [["retry-after", "90"]]], ["body", "string", '{"message":"slow down"}'], ["nowMs", "typed", 1_800_000_000_000]] },
  "Email#record": {
    args: [["reports", "struct", [{ record: { id: CLAIMED_ROW.id, createdAt: CLAIMED_ROW.created_at, leaseToken: CLAIMED_ROW.lease_token, attempt: 1, expiresAtMs: null }, outcome: "retryable", transport: "smtp", envelope: ["jane@example.com"], startedAtMs: 1_800_000_000_000 }]], ["nowMs", "typed", 1_800_000_000_000], ["draws", "typed", [0]], ["worker", "typed", "w1"]],
    call: (b, a) => new b.Email(EMAIL_CONFIG).record(...a),
  },
  "Email#suppressionPlan": {
    args: [["op", "typed", "add"], ["input", "struct", { address: "Jane@Example.com", reason: "complaint", note: "by phone" }], ["tenantId", "optString", "0b7e4a3c-6d2f-4c1e-9a8b-2f5d6e7c8a9b"]],
    call: (b, a) => new b.Email(EMAIL_CONFIG).suppressionPlan(...a),
  },
  "Email#suppressionResult": {
    args: [["op", "typed", "list"], ["input", "struct", { limit: 1 }], ["rows", "struct", [SUPPRESSION_ROW, { ...SUPPRESSION_ROW, id: "6f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a0b" }]]],
    call: (b, a) => new b.Email(EMAIL_CONFIG).suppressionResult(...a),
  },
  "Email#templatePlan": {
    args: [["op", "typed", "save"], ["input", "struct", { name: "welcome", locale: "de-CH", subject: "Hallo {{ name }}", html: "<p>{{ name }}</p>", sample: { name: "<Sam>" } }], ["tenantId", "optString", "0b7e4a3c-6d2f-4c1e-9a8b-2f5d6e7c8a9b"]],
    call: (b, a) => new b.Email({ ...EMAIL_CONFIG, templates: { welcome: { editable: true } } }).templatePlan(...a),
  },
  "Email#templateResult": {
    args: [["op", "typed", "preview"], ["input", "struct", { name: "welcome", props: { name: "<Sam>" } }], ["rows", "struct", [{ locale: "", version: 2, subject: "Hi {{ name }}", html: "<b>{{ name }}</b>", text_body: null }]]],
    call: (b, a) => new b.Email(EMAIL_CONFIG).templateResult(...a),
  },
  "Email#events": {
    args: [["provider", "typed", "postmark"], ["requestId", "optString", "req_1"], ["body", "typed", new TextEncoder().encode(JSON.stringify({ RecordType: "Delivery", Recipient: "j@example.com", MessageID: "m1", DeliveredAt: "2026-01-01T00:00:00Z", Metadata: { better_email_id: "eml_x" } }))]],
    call: (b, a) => new b.Email(EMAIL_CONFIG).events(...a),
  },
};
// The loader's own `requireNative` is outside this table.
const outside = new Set(["requireNative"]);

const lone = ["\ud800", "a\udc00b", "\udfff\ud800"];
const notJson = [NaN, Infinity, -Infinity, () => 1, Symbol("s"), 10n, { a: NaN }, { a: [1, { b: Infinity }] }, { a: "\ud800" }, { ["\udc00"]: 1 }, [() => 1]];
const wrong = {
  string: [42, NaN, undefined, null, {}, ["a"], true, 10n, Symbol("s"), ...lone],
  optString: [42, NaN, {}, ["a"], true, ...lone],
  struct: [42, "x", undefined, true, ...notJson],
  optStruct: [42, "x", true, ...notJson],
  any: [undefined, ...notJson],
  bool: [42, "x", undefined, null, {}, ...notJson],
  optBool: [42, "x", {}, ...notJson],
  optMs: ["x", true, {}, -1, 1.5, 2 ** 32, ...notJson],
  optBytesList: [42, "x", true, {}, [1], ["x"], [{}], [new Uint16Array(2)], ...notJson],
  typed: [],
};

test("every export is in the argument table", () => {
  const dts = readFileSync(new URL("../npm/core/index.d.ts", import.meta.url), "utf8");
  const declared = [...dts.matchAll(/^export declare (?:function|class) (\w+)/gm)].map((m) => m[1]);
  const covered = new Set(Object.keys(calls).map((k) => k.split("#")[0]));
  assert.deepEqual(declared.filter((name) => !covered.has(name) && !outside.has(name)), []);
});

test("wrong argument types: the same INVALID_ARGUMENT, naming the argument, on both backends", () => {
  let cases = 0;
  for (const [name, { args, call }] of Object.entries(calls)) {
    const run = (b, values) => (call ? call(b, values) : b[name](...values));
    const valid = args.map(([, , v]) => v);
    const ok = same(`${name} valid`, (b) => run(b, valid));
    assert.equal(ok.code, undefined, `${name}: ${ok.message}`);
    args.forEach(([arg, kind], i) => {
      for (const bad of wrong[kind]) {
        const values = valid.slice();
        values[i] = bad;
        const label = `${name}(${arg} = ${typeof bad === "symbol" || typeof bad === "bigint" ? String(bad) : JSON.stringify(bad)})`;
        const r = same(label, (b) => run(b, values));
        assert.equal(r.code, "INVALID_ARGUMENT", `${label}: ${r.code} ${r.message}`);
        assert.match(r.message, new RegExp(`^invalid \`${arg}[\`.[]`), label);
        cases++;
      }
    });
  }
  assert.ok(cases > 250, String(cases));
});

test("lone surrogates, NaN and non-JSON values inside arguments name their path", () => {
  const cases = [
    [(b) => b.resolveTenant({ headers: { "x-tenant-id": "\ud800" } }, { header: "x-tenant-id" }), "request.headers.x-tenant-id"],
    [(b) => b.resolveTenant({ headers: {} }, { jwt: { claim: "t", secret: SECRET, leeway: NaN } }), "tenantResolver.jwt.leeway"],
    [(b) => b.verifyJwt(token, { secret: SECRET, leeway: NaN }), "options.leeway"],
    [(b) => b.canonicalJson(NaN), "value"],
    [(b) => b.canonicalJson({ a: [1, { b: () => 1 }] }), "value.a[1].b"],
    [(b) => b.auditSealRows([{ id: "1", at: Infinity }], null), "rows[0].at"],
    [(b) => b.generateMigrationSql({ tenantTables: ["a\udc00"] }), "config.tenantTables[0]"],
  ];
  for (const [fn, path] of cases) {
    const r = same(path, fn);
    assert.equal(r.code, "INVALID_ARGUMENT", `${path}: ${r.message}`);
    assert.ok(r.message.startsWith(`invalid \`${path}\`: `), r.message);
  }
  // What JSON.stringify keeps: undefined properties are absent, toJSON (a Date) is used.
  const d = same("toJSON", (b) => b.canonicalJson({ at: new Date(0), gone: undefined, list: [undefined] }));
  assert.equal(d.ok, '{"at":"1970-01-01T00:00:00.000Z","list":[null]}');
  const deep = [];
  let cursor = deep;
  for (let i = 0; i < 200; i++) cursor = cursor[0] = [];
  assert.equal(same("deep", (b) => b.canonicalJson(deep)).code, "INVALID_ARGUMENT");
  const cyclic = { a: 1 };
  cyclic.self = cyclic;
  assert.equal(same("cyclic", (b) => b.canonicalJson(cyclic)).code, "INVALID_ARGUMENT");
});

test("native-only exports give the same codes", () => {
  assert.throws(() => native.slugFromName(42), { code: "INVALID_ARGUMENT", message: /^invalid `name`: expected a string, got number/ });
  assert.throws(() => native.buildNoConfigMessage("/x", [1]), { code: "INVALID_ARGUMENT", message: /^invalid `suggestedTables\[0\]`/ });
});
