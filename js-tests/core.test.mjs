// The public API of @usebetter-rs/core, run once per backend (USEBETTER_BINDING=native|wasm).
import { test } from "node:test";
import assert from "node:assert/strict";
import core from "@usebetter-rs/core";
import { SECRET, signJwt, readKey, nowSeconds } from "./helpers/keys.mjs";

const expected = process.env.USEBETTER_BINDING;
const UUID = "0f8fad5b-d9cb-469f-a165-70867728950e";

test("the loader picked the requested backend", () => {
  assert.ok(expected === "native" || expected === "wasm", "run with USEBETTER_BINDING set");
  assert.equal(core.backend, expected);
});

test("resolution order and normalisation", () => {
  const r = new core.TenantResolver({
    header: "x-tenant-id",
    path: "/t/:tenantId/*",
    subdomain: true,
    jwt: { claim: "tenant_id", secret: SECRET },
  });
  assert.deepEqual(r.resolve({ headers: { "X-Tenant-ID": UUID.toUpperCase() } }), {
    value: UUID, strategy: "header", kind: "uuid", rejected: [],
  });
  assert.equal(r.resolve({ headers: {}, path: "/t/acme/projects" }).value, "acme");
  assert.equal(r.resolve({ headers: {}, path: "/other/acme" }).value, null);
  assert.equal(r.resolve({ headers: {}, host: "acme.example.com:3000", path: "/api" }).strategy, "subdomain");
  for (const host of ["www.example.com", "127.0.0.1", "[::1]:3000", "localhost"]) {
    assert.equal(r.resolve({ headers: {}, host }).value, null, host);
  }
  const token = signJwt({ tenant_id: "from-jwt", exp: nowSeconds() + 60 });
  const viaJwt = r.resolve({ headers: { authorization: `Bearer ${token}` } });
  assert.deepEqual([viaJwt.value, viaJwt.strategy], ["from-jwt", "jwt"]);
});

test("unusable values are reported, not used", () => {
  const r = new core.TenantResolver({ header: "x-tenant-id", jwt: { claim: "tenant_id", secret: SECRET } });
  const expired = signJwt({ tenant_id: "acme", exp: nowSeconds() - 10 });
  const out = r.resolve({ headers: { "x-tenant-id": "no spaces!", authorization: `Bearer ${expired}` } });
  assert.equal(out.value, null);
  assert.deepEqual(out.rejected.map((x) => [x.strategy, x.code]), [["header", "TENANT_INVALID_ID"], ["jwt", "JWT_EXPIRED"]]);
});

test("verifyJwt accepts each algorithm and rejects tampering", () => {
  const claims = { sub: "u1", exp: nowSeconds() + 60 };
  const cases = [
    ["HS256", { secret: SECRET }],
    ["RS256", { publicKey: readKey("rsa.pub") }],
    ["ES256", { publicKey: readKey("ec.pub") }],
    ["EdDSA", { publicKey: readKey("ed.pub") }],
    ["RS256", { jwks: JSON.parse(readKey("jwks.json")) }],
    ["ES256", { jwks: readKey("jwks.json") }],
  ];
  for (const [alg, options] of cases) {
    assert.equal(core.verifyJwt(signJwt(claims, alg), options).sub, "u1", alg);
  }
  const token = signJwt(claims);
  const [h, , s] = token.split(".");
  const forged = `${h}.${Buffer.from(JSON.stringify({ sub: "admin" })).toString("base64url")}.${s}`;
  assert.throws(() => core.verifyJwt(forged, { secret: SECRET }), { code: "JWT_BAD_SIGNATURE" });
  assert.throws(() => core.verifyJwt(signJwt(claims, "none"), { secret: SECRET }), { code: "JWT_ALG_NONE" });
  assert.throws(() => core.verifyJwt(token, { secret: SECRET, audience: "api" }), { code: "JWT_BAD_AUDIENCE" });
  assert.throws(() => core.verifyJwt(token, {}), { code: "JWT_NO_KEYS" });
});

test("bad arguments name the field and never surface a raw TypeError", () => {
  const bad = [
    [() => new core.TenantResolver({ header: 5 }), "INVALID_ARGUMENT", /`tenantResolver\.header`/],
    [() => new core.TenantResolver({ jwt: { claim: "t", secret: [] } }), "INVALID_ARGUMENT", /`tenantResolver\.jwt`/],
    [() => new core.TenantResolver({ path: "no-slash" }), "INVALID_CONFIG", /tenantResolver\.path/],
    [() => core.verifyJwt("x", { secert: SECRET }), "INVALID_ARGUMENT", /secert/],
    [() => core.generateMigrationSql({ tenantTables: "projects" }), "INVALID_ARGUMENT", /`config\.tenantTables`/],
    [() => core.generateMigrationSql({ tenantTables: ["x".repeat(64)] }), "INVALID_IDENTIFIER", /tenantTables\[0\]/],
    [() => core.generateAddTableSql("", {}), "INVALID_IDENTIFIER", /empty/],
  ];
  for (const [fn, code, message] of bad) {
    assert.throws(fn, (err) => {
      assert.ok(err instanceof Error);
      assert.ok(!(err instanceof TypeError), `TypeError: ${err.message}`);
      assert.equal(err.code, code, err.message);
      assert.match(err.message, message);
      return true;
    });
  }
});

test("migration SQL names tables exactly once per block and quotes them", () => {
  const sql = core.generateMigrationSql({ tenantTables: ["projects", 'we"ird'], schema: "app" });
  assert.match(sql, /CREATE POLICY "rls_tenant_we_ird" ON "app"\."we""ird"/);
  assert.match(sql, /CREATE INDEX IF NOT EXISTS "projects_tenant_id_idx" ON "app"\."projects" \(tenant_id\)/);
  assert.equal(core.generateAddTableSql("tasks", {}).match(/CREATE POLICY/g).length, 1);
});

test("id bytes: out of a CSPRNG pool, each byte handed out once, in a buffer of its own, any size", async () => {
  const { idBytes, randomBytes } = await import("@usebetter-rs/core/shared");
  // 500 draws of 10 bytes cross the 4 KiB pool's refill: no two are equal, and none exposes the
  // pool (a view's buffer would hold the bytes of the ids still to come).
  const seen = new Set();
  const draws = [];
  for (let i = 0; i < 500; i++) {
    const b = idBytes(10);
    assert.equal(b.length, 10);
    assert.equal(b.buffer.byteLength, 10, `draw ${i} is a view of a larger buffer`);
    draws.push(b);
    seen.add(Buffer.from(b).toString("hex"));
  }
  assert.equal(seen.size, 500);
  // Later draws do not rewrite bytes already handed out.
  const first = Buffer.from(draws[0]).toString("hex");
  for (let i = 0; i < 1000; i++) idBytes(10);
  assert.equal(Buffer.from(draws[0]).toString("hex"), first);
  // Larger than the pool, and larger than one getRandomValues call allows (65,536 bytes).
  for (const n of [5000, 100_000]) {
    const big = n > 65536 ? randomBytes(n) : idBytes(n);
    assert.equal(big.length, n);
    const tail = big.subarray(n - 64);
    assert.ok(tail.some((x) => x !== 0), `the last bytes of ${n} are filled`);
  }
  assert.ok(idBytes(70_000).subarray(69_000).some((x) => x !== 0));
});
