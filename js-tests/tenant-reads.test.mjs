// Reads alone (Drizzle on a pipelining node-postgres pool): a plain tenant scope sends each
// statement the core judges a plain read behind its read-only set-up, both in the extended
// protocol with one Sync (one implicit transaction, no BEGIN or COMMIT), in one write, and
// opens its transaction at the first statement that is not one. What the
// tests hold: one write and one round trip per read, the tenant's rows only, a write after
// reads still atomic with the scope, reads that write through a view run again inside the
// transaction, statements that depend on their transaction never split off, and connections
// whose default isolation is stricter than READ COMMITTED never split a scope at all.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import pg from "pg";
import { sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/node-postgres";
import core from "@usebetter-rs/core";
import { betterTenant } from "@usebetterdev/tenant";
import { drizzleDatabase } from "@usebetterdev/tenant/drizzle";
import { names, projects, tenantDatabase, watched } from "./helpers/app.mjs";

let env;
before(async () => {
  env = await tenantDatabase("treads", { poolSize: 1 });
  const c = new pg.Client({ connectionString: env.url });
  await c.connect();
  // A view whose function writes: a plain read to the parser, a write to PostgreSQL.
  await c.query(`CREATE TABLE read_log (n int);
    CREATE FUNCTION log_read() RETURNS int LANGUAGE sql VOLATILE AS 'INSERT INTO read_log VALUES (1) RETURNING 1';
    CREATE VIEW logged AS SELECT log_read() AS n`);
  await c.end();
});
after(() => env?.close());

// Without loadTenant, so the statements a test sees are its own.
const tenantOn = (db) => betterTenant({ database: drizzleDatabase(db), tenantResolver: { header: "x-tenant-id" }, loadTenant: false });

const SETTINGS = /select set_config\('app\.current_tenant', '[0-9a-f-]{36}', true\), set_config\('app\.tenant_sig', '', true\), set_config\('app\.bypass_rls', '', true\), set_config\('app\.bypass_sig', '', true\)/;
/** A read alone's set-up: every setting, and the implicit transaction made read only, as parameters of one text every scope shares. */
const READ_ONLY =
  /^SELECT set_config\('app\.current_tenant', \$1, true\), set_config\('app\.tenant_sig', \$2, true\), set_config\('app\.bypass_rls', \$3, true\), set_config\('app\.bypass_sig', \$4, true\), set_config\('transaction_read_only', \$5, true\)$/;

test("the core's verdicts reach both backends: plain reads alone; writes, locks and transaction-bound calls not", () => {
  assert.equal(core.sqlReadsAlone('select "id", "name" from "projects" where "projects"."id" = $1'), true);
  for (const text of ["update projects set name = $1", "select * from projects for update", "select now()", "select nextval('s')", "select 1; select 2"]) {
    assert.equal(core.sqlReadsAlone(text), false, text);
  }
  // One author of the read's set-up: parameterised; the inline form is refused.
  assert.throws(() => core.scopeSql(env.ids.acme, null, null, true, null, null, true), (e) => e.code === "INVALID_ARGUMENT" && /readOnly/.test(e.message));
  const alone = core.scopeSql(env.ids.acme, null, null, false, null, null, true);
  assert.match(alone.sql, READ_ONLY);
  assert.deepEqual(alone.params, [env.ids.acme, "", "", "", "on"]);
  assert.equal(core.scopeSql(null, null, null, false, null, null, true).sql, alone.sql, "one text for every scope");
  assert.deepEqual(core.scopeSql(null, null, null, false, null, null, true).params, ["", "", "true", "", "on"]);
  assert.throws(() => core.scopeSql(env.ids.acme, "k".repeat(32), "b", false, null, null, true), (e) => e.code === "INVALID_ARGUMENT" && /readOnly/.test(e.message));
});

test("a scope that only reads: each read alone, one write and one round trip each, the tenant's rows only", async () => {
  const tenant = tenantOn(env.db);
  await tenant.runAs(env.ids.acme, (db) => db.select().from(projects)); // the connection's isolation is learnt
  // One read without parameters (a simple query), one with (extended protocol).
  const { result, texts, events, binds } = await watched(env.pool, () =>
    tenant.runAs(env.ids.acme, async (db) => [
      names(await db.select().from(projects)),
      names(await db.select().from(projects).where(sql`${projects.name} like ${"%-2"}`)),
    ]),
  );
  // Each set-up binds the scope's tenant, empty signatures and bypass, and read only.
  assert.deepEqual([binds[0], binds[2]], [[env.ids.acme, "", "", "", "on"], [env.ids.acme, "", "", "", "on"]]);
  assert.deepEqual(result, [["acme-1", "acme-2"], ["acme-2"]]);
  assert.equal(texts.length, 4, texts.join(" | "));
  for (const at of [0, 2]) {
    assert.match(texts[at], READ_ONLY);
    assert.match(texts[at + 1], /^select .* from "projects"/);
  }
  // Each read: its set-up (Parse, Bind, Execute) and the statement (Parse, Bind, Describe,
  // Execute) with one Sync, in one write, then one answer before anything else is written; no
  // BEGIN, no COMMIT, nothing else. The set-up is prepared on the connection with its first
  // use: the second read only binds it.
  const read = ["B", "E", "P", "B", "D", "E", "S", "write", "ready"];
  assert.deepEqual(events, ["P", ...read, ...read], events.join(" "));
  const globex = await tenant.runAs(env.ids.globex, async (db) => names(await db.select().from(projects)));
  assert.deepEqual(globex, ["globex-1"]);
});

test("a write after reads opens the transaction with the settings; a throw rolls the write back", async () => {
  const tenant = tenantOn(env.db);
  const { texts } = await watched(env.pool, () =>
    assert.rejects(
      tenant.runAs(env.ids.acme, async (db) => {
        await db.select().from(projects);
        await db.insert(projects).values({ name: "doomed" });
        assert.deepEqual(names(await db.select().from(projects)), ["acme-1", "acme-2", "doomed"], "the scope reads its own write");
        throw new Error("boom");
      }),
      /boom/,
    ),
  );
  assert.match(texts[0], READ_ONLY);
  assert.match(texts[2], new RegExp(`^begin; ${SETTINGS.source}$`));
  assert.match(texts[3], /^insert into "projects"/);
  assert.match(texts[4], /^select /, "reads after the transaction opened run in it");
  assert.equal(texts.at(-1), "rollback");
  assert.equal(texts.filter((t) => /^begin/.test(t)).length, 1);
  assert.equal(texts.filter((t) => READ_ONLY.test(t)).length, 1);
  const after = await tenant.runAs(env.ids.acme, async (db) => names(await db.select().from(projects)));
  assert.deepEqual(after, ["acme-1", "acme-2"]);
  // The write lands when the scope succeeds, in the tenant it was made for.
  await tenant.runAs(env.ids.acme, (db) => db.insert(projects).values({ name: "kept" }));
  assert.deepEqual(await tenant.runAs(env.ids.globex, async (db) => names(await db.select().from(projects))), ["globex-1"]);
  await tenant.runAsSystem((db) => db.delete(projects).where(sql`name = 'kept'`));
});

test("a read that writes through a view is refused by READ ONLY and runs again in the scope's transaction", async () => {
  const tenant = tenantOn(env.db);
  const logged = async () => (await env.pool.query("SELECT count(*)::int AS n FROM read_log")).rows[0].n;
  const before = await logged();
  const { texts } = await watched(env.pool, () =>
    assert.rejects(
      tenant.runAs(env.ids.acme, async (db) => {
        assert.deepEqual((await db.execute(sql`select n from logged`)).rows, [{ n: 1 }]);
        throw new Error("undo");
      }),
      /undo/,
    ),
  );
  assert.match(texts[0], READ_ONLY);
  assert.match(texts[2], /^begin; /, "run again in a transaction of the scope");
  assert.equal(texts.at(-1), "rollback");
  assert.equal(await logged(), before, "its write rolled back with the scope");
  await tenant.runAs(env.ids.acme, (db) => db.execute(sql`select n from logged`));
  assert.equal(await logged(), before + 1, "and committed with it");
});

test("statements that depend on their transaction keep one: now(), row locks, set_config", async () => {
  const tenant = tenantOn(env.db);
  await tenant.runAs(env.ids.acme, (db) => db.select().from(projects)); // the connection is known
  const { result, texts } = await watched(env.pool, () =>
    tenant.runAs(env.ids.acme, async (db) => {
      const first = (await db.execute(sql`select now()::text as t`)).rows[0].t;
      await new Promise((r) => setTimeout(r, 20));
      const locked = await db.execute(sql`select name from projects order by name for update`);
      const second = (await db.execute(sql`select now()::text as t`)).rows[0].t;
      return { first, second, locked: locked.rows.length };
    }),
  );
  assert.equal(result.first, result.second, "one transaction: now() does not move");
  assert.equal(result.locked, 2);
  assert.equal(texts.filter((t) => /^begin/.test(t)).length, 1, texts.join(" | "));
  assert.ok(!texts.some((t) => /transaction_read_only/.test(t)), texts.join(" | "));
  // A transaction-local setting made by one statement is seen by the next.
  const seen = await tenant.runAs(env.ids.acme, async (db) => {
    await db.execute(sql`select set_config('app.note', 'kept', true)`);
    return (await db.execute(sql`select current_setting('app.note', true) as v`)).rows[0].v;
  });
  assert.equal(seen, "kept");
});

test("a read that fails aborts the scope's transaction as before: a later write fails and nothing is kept", async () => {
  const tenant = tenantOn(env.db);
  await tenant.runAs(env.ids.acme, (db) => db.select().from(projects)); // the connection is known
  let writeError;
  await assert.rejects(
    tenant.runAs(env.ids.acme, async (db) => {
      await db.execute(sql`select 1 / 0 as n`).catch(() => null);
      writeError = await db.insert(projects).values({ name: "after-error" }).then(() => null, (e) => e);
      throw writeError ?? new Error("the write went through");
    }),
  );
  assert.equal((writeError?.cause ?? writeError)?.code, "25P02", String(writeError));
  const rows = await tenant.runAs(env.ids.acme, async (db) => names(await db.select().from(projects)));
  assert.deepEqual(rows, ["acme-1", "acme-2"]);
});

/**
 * The package's lane on a pipelining client of its own, for acme, once the connection's
 * isolation is known (the first lane on a connection learns it, and opens a transaction).
 */
async function laneClient(config = {}) {
  const require = createRequire(import.meta.url);
  const { openLane } = require(require.resolve("@usebetterdev/tenant/package.json").replace(/package\.json$/, "dist/drizzle/lane.js"));
  const client = new pg.Client({ connectionString: env.url, ...config });
  await client.connect();
  client.pipeline = true;
  const begin = core.scopeSql(env.ids.acme, null, null, true).sql;
  const alone = core.scopeSql(env.ids.acme, null, null, false, null, null, true);
  const first = openLane(client, { begin, alone });
  await client.query("select 1");
  await first.settle();
  first.restore();
  await client.query("commit");
  return { openLane, client, begin, alone };
}

test("a read alone leaves no setting behind; one whose values node-postgres cannot write fails with its error and the answers stay in step", async () => {
  const { openLane, client, begin, alone } = await laneClient();
  const tenantSetting = async () => (await client.query("select current_setting('app.current_tenant', true) as t")).rows[0].t;
  try {
    const reading = openLane(client, { begin, alone });
    assert.deepEqual((await client.query("select count(*)::int as n from projects")).rows, [{ n: 2 }], "the tenant's rows");
    await reading.settle();
    reading.restore();
    assert.equal(reading.open, false);
    assert.equal(client.getTransactionStatus(), "I", "the read's implicit transaction ended at its Sync");
    assert.equal(await tenantSetting(), "", "its settings ended with it");
    assert.equal((await client.query("select current_setting('transaction_read_only') as r")).rows[0].r, "off");
    // The set-up is written before node-postgres maps the statement's values; a value that cannot
    // be written makes it close and sync what it wrote. The read fails with that error (the
    // client's own: nothing to run again), and every later answer still reaches its own query.
    const lane = openLane(client, { begin, alone });
    const unwritable = { toPostgres() { throw new Error("unwritable value"); } };
    await assert.rejects(client.query("select $1::text as v", [unwritable]), /unwritable value/);
    assert.deepEqual((await client.query("select $1::int + 1 as n", [41])).rows, [{ n: 42 }]);
    await lane.settle();
    lane.restore();
    assert.equal(lane.open, false);
    assert.equal(client.getTransactionStatus(), "I");
    assert.equal(await tenantSetting(), "");
  } finally {
    await client.end();
  }
});

test("a read node-postgres calls back twice is counted once: the scope still waits for a slower read sent after it", async () => {
  const { openLane, client, begin, alone } = await laneClient();
  try {
    const lane = openLane(client, { begin, alone });
    // node-postgres fails this read at once (its value cannot be written) and calls it back
    // again when the Sync it then wrote is answered: after the slower read below was sent.
    const unwritable = { toPostgres() { throw new Error("unwritable value"); } };
    await assert.rejects(client.query("select $1::text as v", [unwritable]), /unwritable value/);
    let slowAnswered = false;
    const slow = client.query("select count(*)::int as n from generate_series(1, 2000000)").then((r) => ((slowAnswered = true), r.rows));
    await lane.settle();
    assert.equal(slowAnswered, true, "settle waited for the read sent after the failed one");
    lane.restore();
    assert.deepEqual(await slow, [{ n: 2000000 }]);
    assert.equal(client.getTransactionStatus(), "I");
  } finally {
    await client.end();
  }
});

test("named statements and binary clients stay in the transaction; a read alone keeps its query_timeout", async () => {
  const { openLane, client, begin, alone } = await laneClient();
  const known = async (config) => (await laneClient(config)).client;
  try {
    // A named statement whose Parse fails keeps its real error, and its name stays free.
    const lane = openLane(client, { begin, alone });
    await assert.rejects(client.query({ name: "later", text: "select n from later_table" }), (e) => e.code === "42P01");
    await lane.settle();
    lane.restore();
    assert.equal(lane.open, true, "a named read runs in the scope's transaction");
    await client.query("rollback");
    await client.query("create table later_table (n int); insert into later_table values (7)");
    assert.deepEqual((await client.query({ name: "later", text: "select n from later_table" })).rows, [{ n: 7 }]);
    await client.query("drop table later_table");
  } finally {
    await client.end();
  }
  const binary = await known({ binary: true });
  try {
    const lane = openLane(binary, { begin, alone });
    await binary.query("select name from projects");
    await lane.settle();
    lane.restore();
    assert.equal(lane.open, true, "a binary client's reads keep their protocol: no split");
    await binary.query("commit");
  } finally {
    await binary.end();
  }
  const timed = await known({});
  try {
    const lane = openLane(timed, { begin, alone });
    const started = Date.now();
    await assert.rejects(timed.query({ text: "select count(*) from generate_series(1, 100000000) g", query_timeout: 200 }), /Query read timeout/);
    assert.ok(Date.now() - started < 2000, `answered after ${Date.now() - started} ms`);
    await lane.settle();
    lane.restore();
    assert.equal(lane.open, false, "a timeout is the client's own error: nothing runs again");
  } finally {
    await timed.end().catch(() => undefined);
  }
});

test("a connection whose default isolation is REPEATABLE READ never splits a scope", async () => {
  const pool = new pg.Pool({ connectionString: env.url, max: 1, options: "-c default_transaction_isolation=repeatable\\ read" });
  try {
    const tenant = tenantOn(drizzle(pool));
    await tenant.runAs(env.ids.acme, (db) => db.select().from(projects)); // learns the isolation
    const { result, texts } = await watched(pool, () =>
      tenant.runAs(env.ids.acme, async (db) => {
        const first = names(await db.select().from(projects));
        // Committed by another connection between the scope's two reads.
        await tenantOn(env.db).runAs(env.ids.acme, (other) => other.insert(projects).values({ name: "late" }));
        return [first, names(await db.select().from(projects))];
      }),
    );
    assert.deepEqual(result[0], result[1], "one snapshot for the whole scope");
    assert.ok(!texts.some((t) => /transaction_read_only/.test(t)), texts.join(" | "));
  } finally {
    await pool.end();
    await tenantOn(env.db).runAsSystem((db) => db.delete(projects).where(sql`name = 'late'`));
  }
});

test("a session-level change of the default isolation inside a scope makes the connection be asked again", async () => {
  const tenant = tenantOn(env.db);
  const read = (db) => db.select().from(projects);
  await tenant.runAs(env.ids.acme, read); // the pool's one connection is known: read committed
  assert.equal(core.sqlSetsSession("set default_transaction_isolation = 'repeatable read'"), true);
  try {
    await tenant.runAs(env.ids.acme, (db) => db.execute(sql`set default_transaction_isolation = 'repeatable read'`));
    const asked = await watched(env.pool, () => tenant.runAs(env.ids.acme, read));
    assert.ok(asked.texts.includes(core.scopeIsolationSql()), asked.texts.join(" | "));
    const strict = await watched(env.pool, () => tenant.runAs(env.ids.acme, async (db) => [await read(db), await read(db)]));
    assert.ok(!strict.texts.some((t) => /transaction_read_only/.test(t)), strict.texts.join(" | "));
  } finally {
    await tenant.runAs(env.ids.acme, (db) => db.execute(sql`reset default_transaction_isolation`));
  }
  await tenant.runAs(env.ids.acme, read); // asked again: read committed
  const split = await watched(env.pool, () => tenant.runAs(env.ids.acme, read));
  assert.match(split.texts[0], READ_ONLY, split.texts.join(" | "));
});

test("statements the callback left running are answered before the connection goes back", async () => {
  const tenant = tenantOn(env.db);
  await tenant.runAs(env.ids.acme, (db) => db.select().from(projects)); // the connection is known
  // What the pool's one connection holds at the moment the scope releases it.
  const atRelease = [];
  const onRelease = (err, c) => atRelease.push({ unanswered: c._sentQueryQueue.length + (c._activeQuery ? 1 : 0), status: c.getTransactionStatus(), err });
  env.pool.on("release", onRelease);
  let late;
  try {
    const n = await tenant.runAs(env.ids.acme, async (db) => {
      late = db.select().from(projects).then(names);
      return 1;
    });
    assert.equal(n, 1);
  } finally {
    env.pool.off("release", onRelease);
  }
  assert.deepEqual(atRelease, [{ unanswered: 0, status: "I", err: undefined }]);
  assert.deepEqual(await late, ["acme-1", "acme-2"]);
  // The pool's one connection is clean: the next scope gets answers of its own.
  assert.deepEqual(await tenant.runAs(env.ids.globex, async (db) => names(await db.select().from(projects))), ["globex-1"]);
});
