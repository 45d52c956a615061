// suite: once (scripts/test.sh runs it once; the others run on each backend)
// better-audit against PostgreSQL 15: migrate (plain, partitioned, upgrade, idempotent),
// purge by retention, trigger capture (raw SQL, bulk updates, cascades, with the actor), and
// sealing + verification of a 10,000-row chain against every kind of tampering.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { drizzle } from "drizzle-orm/node-postgres";
import { eq, sql } from "drizzle-orm";
import { integer, pgTable, serial, text } from "drizzle-orm/pg-core";
import { runWithTenant } from "@usebetterdev/tenant";
import { betterAudit } from "@usebetterdev/audit";
import { drizzleAuditAdapter, withAuditProxy } from "@usebetterdev/audit/drizzle";
import { runCli } from "@usebetterdev/audit-cli";
import core from "@usebetter-rs/core";
import { admin, connectAs, freshDatabase, requireEnv } from "./helpers/db.mjs";
import { assertSealKeyRefused, withoutSealKey } from "./helpers/seal.mjs";

const port = new URL(requireEnv("DATABASE_URL")).port;
const KEY = "seal-key-kept-outside-the-database";
const created = [];
const clients = [];
const dir = mkdtempSync(join(tmpdir(), "better-audit-"));

async function database(name, setup = "") {
  const db = await freshDatabase(name);
  created.push(db);
  const c = await connectAs("app", "app", db.name);
  clients.push(c);
  if (setup) await c.query(setup);
  return { url: `postgres://app:app@127.0.0.1:${port}/${db.name}`, c };
}

const cli = (url, args, env = {}) => runCli(args, { cwd: dir, config: null, env: { DATABASE_URL: url, ...env } });
const ok = async (url, args, env) => {
  const r = await cli(url, args, env);
  assert.equal(r.code, 0, `${args.join(" ")}: ${r.stderr}${r.stdout}`);
  return r.stdout;
};
const one = async (c, sql, params) => (await c.query(sql, params)).rows[0];

after(async () => {
  for (const c of clients) await c.end();
  for (const db of created) await db.drop();
});

test("migrate: dry run, apply twice, upgrade a reference-shaped table, refuse converting it to partitioned", async () => {
  const { url, c } = await database("acli_migrate", `CREATE TABLE audit_logs (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(), "timestamp" timestamptz NOT NULL DEFAULT now(), table_name text NOT NULL,
      operation text NOT NULL, record_id text NOT NULL, actor_id text, before_data jsonb, after_data jsonb, diff jsonb, label text,
      description text, severity text, compliance jsonb, notify boolean, reason text, metadata jsonb, redacted_fields jsonb);
    INSERT INTO audit_logs (table_name, operation, record_id) VALUES ('users', 'INSERT', '1');`);
  const dry = await ok(url, ["migrate", "--dry-run"]);
  assert.match(dry, /CREATE TABLE IF NOT EXISTS "public"."audit_logs"/);
  assert.equal((await one(c, "SELECT count(*)::int AS n FROM information_schema.columns WHERE table_name = 'audit_logs'")).n, 17, "dry run changes nothing");
  assert.match(await ok(url, ["migrate"]), /applied: audit_logs table/);
  await ok(url, ["migrate"]);
  const cols = (await c.query("SELECT column_name FROM information_schema.columns WHERE table_name = 'audit_logs' ORDER BY ordinal_position")).rows.map((r) => r.column_name);
  assert.deepEqual(cols.slice(17), ["tenant_id", "seq", "prev_hash", "hash"]);
  assert.equal((await one(c, "SELECT count(*)::int AS n FROM audit_logs")).n, 1, "existing rows kept");
  const indexes = (await c.query("SELECT indexname FROM pg_indexes WHERE tablename = 'audit_logs'")).rows.map((r) => r.indexname);
  for (const name of ["audit_logs_table_name_timestamp_idx", "audit_logs_timestamp_id_idx", "audit_logs_chain_seq_idx"]) assert.ok(indexes.includes(name), name);
  const r = await cli(url, ["migrate", "--partitioned"]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /exists as a plain table; --partitioned cannot convert it in place/);
  assert.equal(r.errorCode, "AUDIT_NOT_PARTITIONED");
  const unconfirmed = await cli(url, ["purge"]);
  assert.match(unconfirmed.stderr, /pass --dry-run to see what would go, or --yes/);
  assert.equal(unconfirmed.errorCode, "CLI_USAGE");
});

test("first steps: a missing audit_logs names migrate, migrate again says it is up to date, verify before any seal says how to turn sealing on", async () => {
  const { url, c } = await database("acli_first");
  const missing = '"public"."audit_logs" does not exist: run `better-audit migrate` to create it\n';
  for (const args of [["stats"], ["verify"], ["seal"], ["anchor"], ["export"], ["purge", "--dry-run", "--since", "1d"], ["ensure-partitions"]]) {
    const r = await cli(url, args, { AUDIT_SEAL_KEY: KEY });
    assert.deepEqual(r, { code: 1, stdout: "", stderr: missing, errorCode: "AUDIT_TABLE_MISSING" }, args.join(" "));
  }
  assert.equal((await cli(url, ["stats", "--schema", "audit"])).stderr, '"audit"."audit_logs" does not exist: run `better-audit migrate --schema audit` to create it\n');
  assert.equal(await ok(url, ["migrate"]), "applied: audit_logs table\n");
  assert.equal(await ok(url, ["migrate"]), "audit_logs is up to date; nothing applied\n");
  await c.query("CREATE TABLE items (id serial PRIMARY KEY, n int)");
  assert.equal(await ok(url, ["migrate", "--triggers", "--tables", "items"]), "applied: audit_logs table, trigger capture on items\n");
  assert.equal(await ok(url, ["migrate", "--triggers", "--tables", "items"]), "audit_logs is up to date; nothing applied\n");
  await c.query("ALTER TABLE items ADD COLUMN note text");
  assert.equal(await ok(url, ["migrate", "--triggers", "--tables", "items"]), "audit_logs is up to date; nothing applied\n", "the trigger reads columns at run time");
  await c.query("DROP INDEX audit_logs_chain_seq_idx");
  assert.equal(await ok(url, ["migrate"]), "applied: audit_logs table\n", "a missing index is put back");

  const off = (entries) => `sealing is off: ${entries}, so there is no hash chain to verify.
To turn it on:
  1. make a key of at least 32 bytes and keep it outside the database: \`openssl rand -hex 32\`, set as AUDIT_SEAL_KEY
  2. seal entries as they are written: drizzleAuditAdapter(db, { seal: true }) or prismaAuditAdapter(prisma, { seal: true })
  3. seal the entries already there (and those trigger capture writes): \`better-audit seal\`
Then \`better-audit verify\` (with AUDIT_SEAL_KEY set) checks every chain.
`;
  assert.equal(await ok(url, ["verify"]), off("audit_logs has no entries yet"));
  await c.query("INSERT INTO items (n) SELECT g FROM generate_series(1, 3) g");
  assert.equal(await ok(url, ["verify"]), off("none of the 3 entries in audit_logs is sealed"));
  assert.deepEqual(JSON.parse(await ok(url, ["verify", "--json"])), { ok: true, sealing: "off", entries: 3, chains: [] });
  // A key (or --unkeyed) says seals are expected: the same entries fail as unsealed.
  const keyed = await cli(url, ["verify"], { AUDIT_SEAL_KEY: KEY });
  assert.equal(keyed.code, 1);
  assert.match(keyed.stdout, /^global: 3 entries are not sealed \(run `better-audit seal`\)$/m);
  assert.equal((await cli(url, ["verify", "--unkeyed"])).code, 1);
  // seal refuses without a key and seals nothing.
  const refused = await cli(url, ["seal"]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /^AUDIT_SEAL_KEY is not set: .*openssl rand -hex 32/);
  assert.equal((await one(c, "SELECT count(*)::int AS n FROM audit_logs WHERE seq IS NOT NULL")).n, 0);
  await ok(url, ["seal"], { AUDIT_SEAL_KEY: KEY });
  assert.match(await ok(url, ["verify"], { AUDIT_SEAL_KEY: KEY }), /global: 3 entries intact \[keyed\]\nverification passed\n$/);
  assert.match((await cli(url, ["verify"])).stderr, /^AUDIT_SEAL_KEY is not set/, "sealed entries need the key");
  // Seals stripped from every row do not pass where verification could pass before.
  await c.query("UPDATE audit_logs SET seq = NULL, prev_hash = NULL, hash = NULL");
  assert.equal((await cli(url, ["verify"], { AUDIT_SEAL_KEY: KEY })).code, 1);
});

test("partitioned: monthly partitions with a default, ensure-partitions, purge drops whole months and trims the boundary", async () => {
  const { url, c } = await database("acli_parts");
  await ok(url, ["migrate", "--partitioned", "--months", "2"]);
  const parts = async () => (await c.query("SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'audit_logs'::regclass ORDER BY 1")).rows.map((r) => r.relname);
  assert.equal((await parts()).length, 4, "this month, two ahead, default");
  assert.equal(await ok(url, ["migrate", "--partitioned", "--months", "2"]), "audit_logs is up to date; nothing applied\n");
  assert.equal(await ok(url, ["migrate", "--partitioned", "--months", "3"]), "applied: audit_logs partitioned by month\n", "one more month");
  assert.equal((await parts()).length, 5);
  await ok(url, ["ensure-partitions", "--months", "5"]);
  assert.equal((await parts()).length, 7);
  // Twelve past months, one row a day, in partitions of their own.
  for (let k = 1; k <= 12; k++) {
    await c.query(`DO $$ DECLARE f timestamptz := date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' - interval '${k} months'; BEGIN
      EXECUTE format('CREATE TABLE IF NOT EXISTS %I PARTITION OF audit_logs FOR VALUES FROM (%L) TO (%L)', 'audit_logs_past_${k}', f, f + interval '1 month'); END $$`);
  }
  await c.query(`INSERT INTO audit_logs ("timestamp", table_name, operation, record_id)
    SELECT now() - (d || ' days')::interval, 'users', 'INSERT', d::text FROM generate_series(1, 360) d`);
  const before = (await one(c, "SELECT count(*)::int AS n FROM audit_logs")).n;
  const expected = (await one(c, "SELECT count(*)::int AS n FROM audit_logs WHERE \"timestamp\" < now() - interval '90 days'")).n;
  const dry = await ok(url, ["purge", "--dry-run", "--since", "90d"]);
  assert.match(dry, /whole partition dropped/);
  assert.match(dry, new RegExp(`total: ${expected}\\n`));
  assert.equal((await one(c, "SELECT count(*)::int AS n FROM audit_logs")).n, before, "dry run deletes nothing");
  const done = await ok(url, ["purge", "--yes", "--since", "90d"]);
  assert.match(done, new RegExp(`total: ${expected}\\n`));
  assert.equal((await one(c, "SELECT count(*)::int AS n FROM audit_logs")).n, before - expected);
  assert.equal((await one(c, "SELECT count(*)::int AS n FROM audit_logs WHERE \"timestamp\" < now() - interval '90 days'")).n, 0);
  assert.ok((await parts()).length < 7 + 12, "old months are gone as tables");
});

test("trigger capture: raw SQL, a bulk UPDATE of 1,000 rows and ON DELETE CASCADE, with the actor and tenant", async () => {
  const { url, c } = await database("acli_triggers", `CREATE TABLE users (id serial PRIMARY KEY, email text, balance bigint NOT NULL DEFAULT 0);
    CREATE TABLE posts (id serial PRIMARY KEY, user_id int NOT NULL REFERENCES users(id) ON DELETE CASCADE, title text);
    CREATE TABLE tags (post_id int, tag text, PRIMARY KEY (post_id, tag));`);
  await ok(url, ["migrate", "--triggers", "--tables", "users,posts,tags"]);
  const tenant = "3f2504e0-4f89-41d3-9a0c-0305e82c3301";
  await c.query(`BEGIN; SELECT set_config('usebetter.audit_actor', 'alice', true), set_config('app.current_tenant', '${tenant}', true);
    INSERT INTO users (email, balance) SELECT 'u' || g, 9007199254740993 FROM generate_series(1, 1000) g;
    INSERT INTO posts (user_id, title) VALUES (1, 'a'), (1, 'b');
    INSERT INTO tags VALUES (1, 'x');
    COMMIT`);
  await c.query(`BEGIN; SELECT set_config('usebetter.audit_actor', 'bob', true); UPDATE users SET balance = balance + 1; DELETE FROM users WHERE id = 1; COMMIT`);
  const counts = Object.fromEntries((await c.query("SELECT table_name || ':' || operation AS k, count(*)::int AS n FROM audit_logs GROUP BY 1")).rows.map((r) => [r.k, r.n]));
  assert.deepEqual(counts, { "users:INSERT": 1000, "posts:INSERT": 2, "tags:INSERT": 1, "users:UPDATE": 1000, "users:DELETE": 1, "posts:DELETE": 2 });
  const upd = await one(c, "SELECT actor_id, record_id, before_data, after_data, diff, tenant_id FROM audit_logs WHERE operation = 'UPDATE' AND record_id = '2'");
  assert.equal(upd.actor_id, "bob");
  assert.equal(upd.before_data.balance, "9007199254740993", "int8 as an exact string");
  assert.deepEqual(upd.diff, { changedFields: ["balance"], changes: [{ field: "balance", old: "9007199254740993", new: "9007199254740994" }] });
  const ins = await one(c, "SELECT actor_id, tenant_id FROM audit_logs WHERE table_name = 'users' AND operation = 'INSERT' LIMIT 1");
  assert.deepEqual([ins.actor_id, ins.tenant_id], ["alice", tenant]);
  const cascaded = (await c.query("SELECT actor_id, before_data->>'title' AS title FROM audit_logs WHERE table_name = 'posts' AND operation = 'DELETE' ORDER BY 2")).rows;
  assert.deepEqual(cascaded, [{ actor_id: "bob", title: "a" }, { actor_id: "bob", title: "b" }], "cascaded deletes recorded with the actor");
  assert.equal((await one(c, "SELECT record_id FROM audit_logs WHERE table_name = 'tags'")).record_id, '["1","x"]');
  // Unsealed trigger rows fail verification until sealed.
  const unsealed = await cli(url, ["verify"], { AUDIT_SEAL_KEY: KEY });
  assert.equal(unsealed.code, 1);
  assert.match(unsealed.stdout, /1003 entries are not sealed \(run `better-audit seal`\)/);
  const sealed = await ok(url, ["seal"], { AUDIT_SEAL_KEY: KEY });
  assert.match(sealed, /^global: sealed 1003 entries \(seq 1\.\.1003\)$/m, "bob's changes: no tenant set");
  assert.match(sealed, new RegExp(`^tenant ${tenant}: sealed 1003 entries`, "m"));
  assert.match(sealed, /sealed 2006 entries \(keyed\)/);
  assert.match(await ok(url, ["verify"], { AUDIT_SEAL_KEY: KEY }), /verification passed/);
});

test("verify: a 10,000-row chain from 8 concurrent writers verifies; every tampering is found", async () => {
  const { url, c } = await database("acli_chain", "CREATE TABLE items (id serial PRIMARY KEY, n int)");
  await ok(url, ["migrate", "--triggers", "--tables", "items"]);
  // 8 writers at once, each sealing as it goes: the chain must not fork.
  const writers = await Promise.all(Array.from({ length: 8 }, () => connectAs("app", "app", c.database)));
  clients.push(...writers);
  await Promise.all(
    writers.map(async (w, k) => {
      for (let batch = 0; batch < 5; batch++) {
        await w.query(`INSERT INTO items (n) SELECT g FROM generate_series(1, 250) g`);
        const r = await cli(url, ["seal"], { AUDIT_SEAL_KEY: KEY });
        assert.equal(r.code, 0, `writer ${k}: ${r.stderr}`);
      }
    }),
  );
  assert.equal((await one(c, "SELECT count(*)::int AS n FROM audit_logs WHERE seq IS NOT NULL")).n, 10000);
  assert.equal((await one(c, "SELECT count(DISTINCT seq)::int AS n FROM audit_logs")).n, 10000, "no seq used twice");
  const verify = (args = []) => cli(url, ["verify", "--json", ...args], { AUDIT_SEAL_KEY: KEY });
  const clean = await verify();
  assert.equal(clean.code, 0, clean.stdout);
  assert.deepEqual(JSON.parse(clean.stdout).chains[0], { chain: null, mode: "keyed", rows: 10000, unsealed: 0, break: null });
  writeFileSync(join(dir, "anchor.json"), await ok(url, ["anchor"]));
  await c.query("CREATE TABLE pristine AS SELECT * FROM audit_logs");
  const restore = () => c.query("TRUNCATE audit_logs; INSERT INTO audit_logs SELECT * FROM pristine; DELETE FROM audit_chain_checkpoints");
  const at = async (seq) => (await one(c, "SELECT id FROM audit_logs WHERE seq = $1", [seq])).id;
  const broken = async (args = []) => {
    const r = await verify(args);
    assert.equal(r.code, 1, r.stdout);
    return JSON.parse(r.stdout).chains[0].break;
  };

  const edited = await at(5000);
  await c.query(`UPDATE audit_logs SET after_data = jsonb_set(after_data, '{n}', '999') WHERE seq = 5000`);
  assert.deepEqual(await broken().then((b) => [b.kind, b.rowId, b.seq]), ["edited", edited, 5000]);
  await restore();

  // SQL NULL and JSON null are different contents: an INSERT's NULL before_data made 'null'.
  const inserted = await at(3000);
  await c.query(`UPDATE audit_logs SET before_data = 'null'::jsonb WHERE seq = 3000 AND before_data IS NULL`);
  assert.deepEqual(await broken().then((b) => [b.kind, b.rowId, b.seq]), ["edited", inserted, 3000]);
  await restore();

  await c.query("DELETE FROM audit_logs WHERE seq = 4321");
  assert.deepEqual(await broken().then((b) => [b.kind, b.seq]), ["deleted", 4321]);
  await restore();

  await c.query("DELETE FROM audit_logs WHERE seq > 9990");
  const tail = await verify();
  assert.equal(tail.code, 0, "without an anchor, a chain cut at its end looks whole: keep anchors");
  assert.deepEqual(await broken(["--anchor", "anchor.json"]).then((b) => [b.kind, b.seq]), ["truncated", 10000]);
  await restore();

  // Every row of the anchored chain gone: still a chain of the anchor, truncated to nothing.
  await c.query("DELETE FROM audit_logs");
  const emptied = await verify(["--anchor", "anchor.json"]);
  assert.equal(emptied.code, 1, emptied.stdout);
  assert.deepEqual(JSON.parse(emptied.stdout), { ok: false, chains: [{ chain: null, mode: "keyed", rows: 0, unsealed: 0, break: { kind: "truncated", rowId: null, seq: 10000, message: "chain ends at seq 0 but the anchor is at seq 10000" } }] });
  const emptiedText = await cli(url, ["verify", "--anchor", "anchor.json"], { AUDIT_SEAL_KEY: KEY });
  assert.equal(emptiedText.code, 1);
  assert.match(emptiedText.stdout, /^global: BROKEN \(truncated\) at seq 10000/m);
  assert.match(emptiedText.stdout, /verification FAILED/);
  await restore();

  // A forged purge checkpoint hiding the oldest 100 rows, by a role that can write the table:
  // without a MAC, or with one computed without the key, it is found with or without an anchor.
  const forgedMac = `encode(sha256(convert_to('checkpoint{"chain":"","hash":"' || hash || '","seq":' || seq || '}', 'UTF8')), 'hex')`;
  for (const mac of ["NULL", forgedMac]) {
    await c.query(`INSERT INTO audit_chain_checkpoints (chain, seq, hash, mac) SELECT '', seq, hash, ${mac} FROM audit_logs WHERE seq = 100; DELETE FROM audit_logs WHERE seq <= 100`);
    assert.deepEqual(await broken().then((b) => [b.kind, b.seq]), ["checkpoint", 100], mac);
    assert.equal((await broken(["--anchor", "anchor.json"])).kind, "checkpoint");
    await restore();
  }

  const [a, b] = [await at(700), await at(701)];
  await c.query("UPDATE audit_logs SET seq = CASE seq WHEN 700 THEN 701 ELSE 700 END WHERE seq IN (700, 701)");
  const swapped = await broken();
  assert.equal(swapped.kind, "reordered");
  assert.ok([a, b].includes(swapped.rowId));
  await restore();

  // A forged row with a plausible seal: computed without the key, so it cannot match.
  const prev = (await one(c, "SELECT hash FROM audit_logs WHERE seq = 10000")).hash;
  await c.query(`INSERT INTO audit_logs (table_name, operation, record_id, actor_id, seq, prev_hash, hash)
    VALUES ('items', 'DELETE', '1', 'mallory', 10001, $1, encode(sha256(convert_to($1 || 'forged', 'UTF8')), 'hex'))`, [prev]);
  assert.equal((await broken()).kind, "edited");
  await restore();

  // Without the key the seals cannot be checked: verification with a wrong key fails at once.
  const wrong = await cli(url, ["verify", "--json"], { AUDIT_SEAL_KEY: "a-wrong-key-of-more-than-32-bytes!" });
  assert.equal(wrong.code, 1);
  assert.equal(JSON.parse(wrong.stdout).chains[0].break.seq, 1);
  const unkeyed = await cli(url, ["verify", "--json", "--unkeyed"]);
  assert.equal(unkeyed.code, 1, "a keyed chain does not pass as an unkeyed one");
  assert.deepEqual([JSON.parse(unkeyed.stdout).chains[0].mode, JSON.parse(unkeyed.stdout).chains[0].break.seq], ["keyed", 1]);
  assert.equal((await verify()).code, 0, "restored chain verifies again");
});

test("the proxy stands down for tables under trigger capture: one entry per change, with the request's actor", async () => {
  const { url, c } = await database("acli_standdown", "CREATE TABLE users (id serial PRIMARY KEY, email text NOT NULL, role text NOT NULL DEFAULT 'user')");
  await ok(url, ["migrate", "--triggers", "--tables", "users"]);
  const pool = new pg.Pool({ connectionString: url, max: 1 });
  try {
    const raw = drizzle(pool);
    const users = pgTable("users", { id: serial("id").primaryKey(), email: text("email").notNull(), role: text("role").notNull().default("user") });
    const audit = betterAudit({ database: drizzleAuditAdapter(raw), auditTables: ["users"] });
    const db = withAuditProxy(raw, audit.captureLog);
    await audit.withContext({ actorId: "carol", metadata: { requestId: "r-1" } }, async () => {
      const [row] = await db.insert(users).values({ email: "a@x.io" }).returning();
      assert.equal(row.role, "user", "drizzle's result as usual");
      await db.transaction(async (tx) => tx.update(users).set({ role: "admin" }).where(eq(users.id, row.id)));
      // Raw SQL on a trigger-captured table is recorded by the trigger, so it is not refused.
      await db.execute(sql`UPDATE users SET role = 'owner'`);
    });
    const rows = (await c.query(`SELECT operation, actor_id, metadata FROM audit_logs ORDER BY "timestamp"`)).rows;
    assert.deepEqual(rows.map((r) => r.operation), ["INSERT", "UPDATE", "UPDATE"], "no entry twice");
    assert.deepEqual(rows.slice(0, 2).map((r) => [r.actor_id, r.metadata?.requestId]), [["carol", "r-1"], ["carol", "r-1"]]);
  } finally {
    await pool.end();
  }
});

test("entries sealed by the library as they are written, by 8 concurrent writers over 3 chains, verify with the CLI", async () => {
  const { url, c } = await database("acli_libseal", "CREATE TABLE items (id serial PRIMARY KEY, n int NOT NULL)");
  await ok(url, ["migrate"]);
  const pool = new pg.Pool({ connectionString: url, max: 8 });
  try {
    const raw = drizzle(pool);
    const items = pgTable("items", { id: serial("id").primaryKey(), n: integer("n").notNull() });
    const audit = betterAudit({ database: drizzleAuditAdapter(raw, { seal: { key: KEY } }), auditTables: ["items"] });
    const db = withAuditProxy(raw, audit.captureLog);
    const tenants = [undefined, "11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222"];
    await Promise.all(
      Array.from({ length: 8 }, async (_, w) => {
        for (let i = 0; i < 25; i++) {
          const tenant = tenants[(w + i) % 3];
          const write = async () => {
            const [row] = await db.insert(items).values({ n: i }).returning();
            await db.update(items).set({ n: i + 1 }).where(eq(items.id, row.id));
            if (i % 5 === 0) await db.delete(items).where(eq(items.id, row.id));
          };
          await (tenant ? runWithTenant(tenant, write) : write());
        }
      }),
    );
    assert.equal((await one(c, "SELECT count(*)::int AS n FROM audit_logs WHERE seq IS NOT NULL")).n, 440, "every entry sealed as written");
    const report = JSON.parse((await cli(url, ["verify", "--json"], { AUDIT_SEAL_KEY: KEY })).stdout);
    assert.equal(report.ok, true, JSON.stringify(report));
    assert.deepEqual(report.chains.map((ch) => ch.rows).reduce((a, b) => a + b), 440);
    assert.equal(report.chains.length, 3);
    assert.deepEqual(report.chains.map((ch) => ch.mode), ["keyed", "keyed", "keyed"]);
    // SQL NULL turned into JSON null, in an INSERT's before_data and a DELETE's after_data.
    for (const [column, operation] of [["before_data", "INSERT"], ["after_data", "DELETE"]]) {
      const { id } = await one(c, `SELECT id FROM audit_logs WHERE operation = $1 AND ${column} IS NULL AND tenant_id IS NULL ORDER BY seq DESC LIMIT 1`, [operation]);
      await c.query(`UPDATE audit_logs SET ${column} = 'null'::jsonb WHERE id = $1`, [id]);
      const flipped = JSON.parse((await cli(url, ["verify", "--json", "--tenant", "global"], { AUDIT_SEAL_KEY: KEY })).stdout);
      assert.deepEqual([flipped.chains[0].break?.kind, flipped.chains[0].break?.rowId], ["edited", id], column);
      await c.query(`UPDATE audit_logs SET ${column} = NULL WHERE id = $1`, [id]);
    }
    // An anchored tenant chain whose every row is deleted is reported, not skipped.
    writeFileSync(join(dir, "libseal-anchor.json"), await ok(url, ["anchor"]));
    await c.query("DELETE FROM audit_logs WHERE tenant_id = $1", [tenants[1]]);
    const gone = await cli(url, ["verify", "--json", "--anchor", "libseal-anchor.json"], { AUDIT_SEAL_KEY: KEY });
    assert.equal(gone.code, 1);
    const goneChain = JSON.parse(gone.stdout).chains.find((ch) => ch.chain === tenants[1]);
    assert.deepEqual([goneChain.rows, goneChain.break.kind], [0, "truncated"]);
    await c.query("UPDATE audit_logs SET actor_id = 'mallory' WHERE seq = 10 AND tenant_id IS NULL");
    const tampered = await cli(url, ["verify", "--json", "--tenant", "global"], { AUDIT_SEAL_KEY: KEY });
    assert.equal(tampered.code, 1);
    assert.deepEqual(JSON.parse(tampered.stdout).chains[0].break.kind, "edited");
  } finally {
    await pool.end();
  }
});

test("plain table: purge by retention (all tables or one), and sealed chains still verify after a purge", async () => {
  const { url, c } = await database("acli_purge", "CREATE TABLE items (id serial PRIMARY KEY, n int)");
  await ok(url, ["migrate"]);
  // 200 entries a day apart (d days and 12 hours old) over two tables, two chains.
  await c.query(`INSERT INTO audit_logs ("timestamp", table_name, operation, record_id, tenant_id)
    SELECT now() - (d || ' days 12 hours')::interval, CASE WHEN d % 2 = 0 THEN 'users' ELSE 'orders' END, 'INSERT', d::text,
           CASE WHEN d % 3 = 0 THEN '33333333-3333-4333-8333-333333333333'::uuid END
    FROM generate_series(1, 200) d`);
  await ok(url, ["seal"], { AUDIT_SEAL_KEY: KEY });
  const count = async (where = "TRUE") => (await one(c, `SELECT count(*)::int AS n FROM audit_logs WHERE ${where}`)).n;
  // Cutting sealed chains records sealed checkpoints, which takes the key.
  const keyless = await cli(url, ["purge", "--yes", "--since", "100d"]);
  assert.equal(keyless.code, 1);
  assert.match(keyless.stderr, /AUDIT_SEAL_KEY is not set.*openssl rand -hex 32/);
  assert.equal(keyless.errorCode, "AUDIT_SEAL_KEY");
  assert.equal(await count(), 200, "nothing deleted without the key");
  assert.match(await ok(url, ["purge", "--dry-run", "--since", "150d", "--table", "users"]), /audit_logs: 26 rows\ntotal: 26\n/);
  assert.equal(await count(), 200);
  // Purging one table would cut holes in chains shared with other tables; the whole window is fine.
  const refused = await cli(url, ["purge", "--yes", "--since", "150d", "--table", "users"]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /sealed into hash chains shared with other tables/);
  assert.equal(refused.errorCode, "AUDIT_SEALED_PURGE", "the code purgeLogs throws for sealed entries");
  assert.equal(await count(), 200, "nothing deleted");
  writeFileSync(join(dir, "before-purge.json"), await ok(url, ["anchor"]));
  assert.match(await ok(url, ["purge", "--yes", "--since", "100d"], { AUDIT_SEAL_KEY: KEY }), /total: 101\n/);
  // A purge after the anchor was taken: its sealed checkpoints vouch for the cut.
  assert.match(await ok(url, ["verify", "--anchor", "before-purge.json"], { AUDIT_SEAL_KEY: KEY }), /verification passed/);
  assert.equal(await count(), 99);
  assert.equal(await count(`"timestamp" < now() - interval '100 days'`), 0);
  assert.equal((await one(c, "SELECT count(*)::int AS n FROM audit_chain_checkpoints WHERE mac ~ '^[0-9a-f]{64}$'")).n, 2, "one sealed checkpoint per chain");
  assert.match(await ok(url, ["verify"], { AUDIT_SEAL_KEY: KEY }), /verification passed/);
  // Anchors carry the checkpoints, so removing them (with the rows before) is found.
  const afterPurge = JSON.parse(await ok(url, ["anchor"]));
  assert.ok(afterPurge.chains.length === 2 && afterPurge.chains.every((ch) => ch.checkpoint?.seq > 0), JSON.stringify(afterPurge));
  writeFileSync(join(dir, "after-purge.json"), JSON.stringify(afterPurge));
  await c.query("CREATE TABLE saved_checkpoints AS SELECT * FROM audit_chain_checkpoints; DELETE FROM audit_chain_checkpoints");
  const removed = await cli(url, ["verify", "--json", "--anchor", "after-purge.json"], { AUDIT_SEAL_KEY: KEY });
  assert.equal(removed.code, 1);
  assert.deepEqual(JSON.parse(removed.stdout).chains.map((ch) => ch.break?.kind), ["checkpoint", "checkpoint"]);
  await c.query("INSERT INTO audit_chain_checkpoints SELECT * FROM saved_checkpoints");
  // New entries continue both chains after the purge.
  await c.query(`INSERT INTO audit_logs (table_name, operation, record_id) VALUES ('users', 'INSERT', 'new')`);
  await ok(url, ["seal"], { AUDIT_SEAL_KEY: KEY });
  assert.match(await ok(url, ["verify"], { AUDIT_SEAL_KEY: KEY }), /global: \d+ entries intact/);
  // Deleting the oldest remaining entry is still a break, checkpoint or not.
  await c.query("DELETE FROM audit_logs WHERE id = (SELECT id FROM audit_logs WHERE tenant_id IS NULL ORDER BY seq LIMIT 1)");
  assert.equal((await cli(url, ["verify"], { AUDIT_SEAL_KEY: KEY })).code, 1);
});

test("seal keys: none or a short one is refused (library and CLI) unless unkeyed chains are asked for; verify and stats name each chain's mode", async () => {
  const { url, c } = await database("acli_keys", "CREATE TABLE items (id serial PRIMARY KEY, n int NOT NULL)");
  await ok(url, ["migrate"]);
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  try {
    await withoutSealKey(async () => {
      const raw = drizzle(pool);
      const refused = (seal) => assertSealKeyRefused(() => drizzleAuditAdapter(raw, { seal }));
      refused(true);
      refused({ key: "k" });
      process.env.AUDIT_SEAL_KEY = "k";
      refused(true);
      delete process.env.AUDIT_SEAL_KEY;
      const items = pgTable("items", { id: serial("id").primaryKey(), n: integer("n").notNull() });
      const audit = betterAudit({ database: drizzleAuditAdapter(raw, { seal: { unkeyed: true } }), auditTables: ["items"] });
      const db = withAuditProxy(raw, audit.captureLog);
      for (let i = 0; i < 3; i++) await db.insert(items).values({ n: i });
    });
    assert.equal((await one(c, "SELECT count(*)::int AS n FROM audit_logs WHERE seq IS NOT NULL")).n, 3);
  } finally {
    await pool.end();
  }
  // Trigger-style rows of a tenant chain, unsealed: the CLI seals only with a key.
  const tenant = "44444444-4444-4444-8444-444444444444";
  await c.query(`INSERT INTO audit_logs (table_name, operation, record_id, tenant_id) SELECT 'items', 'INSERT', g::text, $1 FROM generate_series(1, 3) g`, [tenant]);
  for (const env of [{}, { AUDIT_SEAL_KEY: "too-short" }]) {
    const r = await cli(url, ["seal"], env);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /AUDIT_SEAL_KEY.*openssl rand -hex 32/);
  }
  assert.equal((await one(c, "SELECT count(*)::int AS n FROM audit_logs WHERE seq IS NULL")).n, 3, "nothing sealed");
  assert.match(await ok(url, ["seal"], { AUDIT_SEAL_KEY: KEY }), /sealed 3 entries \(keyed\)/);
  // With the key: the unkeyed global chain fails, as a whole-chain rewrite with SHA-256 would.
  const keyed = await cli(url, ["verify", "--json"], { AUDIT_SEAL_KEY: KEY });
  assert.equal(keyed.code, 1);
  const byChain = Object.fromEntries(JSON.parse(keyed.stdout).chains.map((ch) => [ch.chain ?? "global", [ch.mode, ch.break?.kind ?? null]]));
  assert.deepEqual(byChain, { global: ["unkeyed", "unkeyed"], [tenant]: ["keyed", null] });
  // Without a key: refused, unless --unkeyed; then the unkeyed chain passes with a warning.
  const none = await cli(url, ["verify"]);
  assert.equal(none.code, 1);
  assert.match(none.stderr, /AUDIT_SEAL_KEY is not set.*--unkeyed/);
  const both = await cli(url, ["verify", "--unkeyed"], { AUDIT_SEAL_KEY: KEY });
  assert.equal(both.code, 1);
  assert.match(both.stderr, /use one or the other/);
  const weak = await cli(url, ["verify", "--unkeyed", "--tenant", "global"]);
  assert.equal(weak.code, 0, weak.stdout);
  assert.match(weak.stdout, /^global: 3 entries intact \[unkeyed\]\nglobal: warning: sealed without a key/m);
  assert.equal(JSON.parse((await cli(url, ["verify", "--unkeyed", "--tenant", "global", "--json"])).stdout).chains[0].mode, "unkeyed");
  const stats = JSON.parse(await ok(url, ["stats", "--json"]));
  assert.deepEqual(stats.chainModes, [{ chain: null, mode: "unkeyed" }, { chain: tenant, mode: "keyed" }]);
  assert.match(await ok(url, ["stats"]), new RegExp(`^global: unkeyed\ntenant ${tenant}: keyed$`, "m"));
});

test("migrate: the application role cannot write chain checkpoints; purge runs as the owner", async () => {
  const role = `acli_app_${process.pid}`;
  const a = await admin();
  await a.query(`CREATE ROLE ${role} LOGIN PASSWORD 'x' NOSUPERUSER NOBYPASSRLS`);
  await a.end();
  const db = await freshDatabase("acli_roles");
  try {
    const owner = await connectAs("app", "app", db.name);
    // The usual set-up: the application role gets everything on tables the owner creates.
    await owner.query(`ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON TABLES TO ${role}`);
    const url = `postgres://app:app@127.0.0.1:${port}/${db.name}`;
    await ok(url, ["migrate"]);
    const appRole = await connectAs(role, "x", db.name);
    try {
      await appRole.query(`INSERT INTO audit_logs ("timestamp", table_name, operation, record_id) VALUES (now() - interval '200 days', 't', 'INSERT', '1')`);
      for (const sql of [`INSERT INTO audit_chain_checkpoints (chain, seq, hash) VALUES ('', 1, 'x')`, `UPDATE audit_chain_checkpoints SET seq = 1`, `DELETE FROM audit_chain_checkpoints`, `TRUNCATE audit_chain_checkpoints`]) {
        await assert.rejects(appRole.query(sql), (err) => err.code === "42501", sql);
      }
      assert.deepEqual((await appRole.query("SELECT count(*)::int AS n FROM audit_chain_checkpoints")).rows, [{ n: 0 }], "reading stays");
      await ok(url, ["seal"], { AUDIT_SEAL_KEY: KEY });
      await ok(url, ["purge", "--yes", "--since", "100d"], { AUDIT_SEAL_KEY: KEY });
      assert.equal((await owner.query("SELECT count(*)::int AS n FROM audit_chain_checkpoints")).rows[0].n, 1, "the owner records checkpoints");
      assert.match(await ok(url, ["verify"], { AUDIT_SEAL_KEY: KEY }), /global: 0 entries intact \[keyed\]/);
    } finally {
      await appRole.end();
      await owner.end();
    }
  } finally {
    await db.drop();
    const b = await admin();
    await b.query(`DROP ROLE IF EXISTS ${role}`);
    await b.end();
  }
});

test("every per-chain statement the library and the CLI run can use the (tenant_id, seq) index, for tenant chains and the global one", async () => {
  const { url, c } = await database("acli_chain_index");
  await ok(url, ["migrate"]);
  const q = core.auditChainSql();
  const tenant = "33333333-3333-4333-8333-333333333333";
  // With sequential scans priced out, the chain index is searched by tenant_id (an Index Cond);
  // IS NOT DISTINCT FROM can only filter what the index returns for seq.
  const chainConds = (node) => [
    ...(node["Index Name"] === "audit_logs_chain_seq_idx" ? [node["Index Cond"] ?? ""] : []),
    ...(node.Plans ?? []).flatMap(chainConds),
  ];
  await c.query("BEGIN");
  await c.query("SET LOCAL enable_seqscan = off");
  for (const [name, statement, rest] of [["head", q.head, []], ["pending", q.pending, [5000]], ["sealedAfter", q.sealedAfter, [0, 10]], ["unsealed", q.unsealed, [5]]]) {
    for (const [form, id] of [["global", null], ["tenant", tenant]]) {
      const params = [id, ...rest].map((p) => (p === null ? "NULL" : typeof p === "number" ? String(p) : `'${p}'`));
      await c.query(`PREPARE chain_stmt AS ${statement[form]}`);
      const [{ "QUERY PLAN": [plan] }] = (await c.query(`EXPLAIN (FORMAT JSON) EXECUTE chain_stmt(${params.join(", ")})`)).rows;
      await c.query("DEALLOCATE chain_stmt");
      const conds = chainConds(plan.Plan);
      assert.ok(conds.some((cond) => /tenant_id (=|IS NULL)/.test(cond)), `${name}.${form}: ${JSON.stringify(plan)}`);
      assert.doesNotMatch(statement[form], /DISTINCT FROM/, `${name}.${form}`);
    }
  }
  await c.query("ROLLBACK");
  // `seal --watch` finds the chains with unsealed entries by probing the index, one chain at a
  // time, without reading the sealed entries: with 20,000 of them (and sequential scans
  // allowed) it reads index pages only, and finds exactly the chains with unsealed entries.
  await c.query(`INSERT INTO audit_logs (table_name, operation, record_id, tenant_id, seq)
    SELECT 't', 'INSERT', g::text, (ARRAY[NULL, '${tenant}', '44444444-4444-4444-8444-444444444444'])[g % 3 + 1]::uuid, g FROM generate_series(1, 20000) g`);
  await c.query(`INSERT INTO audit_logs (table_name, operation, record_id, tenant_id) VALUES ('t', 'INSERT', 'x', '${tenant}')`);
  await c.query("ANALYZE audit_logs");
  const [{ "QUERY PLAN": [found] }] = (await c.query(`EXPLAIN (ANALYZE, FORMAT JSON) ${q.pendingChains}`)).rows;
  const nodes = (node) => [node, ...(node.Plans ?? []).flatMap(nodes)];
  const scans = nodes(found.Plan).filter((n) => n["Relation Name"] === "audit_logs");
  assert.deepEqual([...new Set(scans.map((n) => n["Node Type"]))].sort(), ["Index Only Scan"], JSON.stringify(found));
  assert.deepEqual((await c.query(q.pendingChains)).rows, [{ chain: tenant }]);
});
