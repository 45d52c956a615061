// Reads alone prepared per connection (Drizzle on a pipelining node-postgres pool): a read alone
// that repeats on a connection is parsed there once under a name of the package's and only bound
// after that, so PostgreSQL plans it once. What the tests hold: the cached plan answers every
// tenant with its own rows (policies read the scope's settings when the statement runs); a
// statement whose table changed shape, or that the server no longer holds, still answers (run
// again in the scope's transaction); a connection names at most 100 statements.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import pg from "pg";
import { sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/node-postgres";
import { betterTenant } from "@usebetterdev/tenant";
import { drizzleDatabase } from "@usebetterdev/tenant/drizzle";
import { names, projects, tenantDatabase, watched } from "./helpers/app.mjs";

let env;
before(async () => {
  env = await tenantDatabase("tprep", { poolSize: 1 });
  const c = new pg.Client({ connectionString: env.url });
  await c.connect();
  await c.query("CREATE TABLE prep_shape (n int); INSERT INTO prep_shape VALUES (1)");
  await c.end();
});
after(() => env?.close());

const tenantOn = (db) => betterTenant({ database: drizzleDatabase(db), tenantResolver: { header: "x-tenant-id" }, loadTenant: false });

/** Runs `fn` with a pool of one connection of its own and a tenant on it whose connection is known (read committed). */
async function onOwnConnection(fn) {
  const pool = new pg.Pool({ connectionString: env.url, max: 1 });
  try {
    const tenant = tenantOn(drizzle(pool));
    await tenant.runAs(env.ids.acme, (db) => db.execute(sql`select 1`));
    await fn({ pool, tenant });
  } finally {
    await pool.end();
  }
}

/** Runs `fn` while the schema change `up` holds (`down` undoes it, whatever happens). */
async function withSchema(up, down, fn) {
  await env.pool.query(up);
  try {
    await fn();
  } finally {
    await env.pool.query(down);
  }
}

/** The statements the package prepared on a pool's one connection (`reads`: the set-up left out). */
async function preparedOn(pool, { reads = false } = {}) {
  const { rows } = await pool.query("select name, statement, generic_plans, custom_plans from pg_prepared_statements where name like 'ubt\\_%' order by name");
  return reads ? rows.filter((r) => !r.statement.startsWith("SELECT set_config(")) : rows;
}

test("a repeated read is parsed once per connection, then only bound; its one plan answers each tenant with its own rows", async () => {
  await onOwnConnection(async ({ pool, tenant }) => {
    const all = (db) => db.select().from(projects);
    const like = (db, pattern) => db.select().from(projects).where(sql`${projects.name} like ${pattern}`);
    for (let i = 0; i < 12; i++) {
      const [id, expected] = i % 2 ? [env.ids.globex, ["globex-1"]] : [env.ids.acme, ["acme-1", "acme-2"]];
      assert.deepEqual(names(await tenant.runAs(id, all)), expected, `read ${i}`);
      assert.deepEqual(names(await tenant.runAs(id, (db) => like(db, "%-1"))), expected.slice(0, 1), `parameterised read ${i}`);
    }
    // The reads' set-up is one text for every tenant, prepared once as well.
    const all3 = await preparedOn(pool);
    const setups = all3.filter((s) => s.statement.startsWith("SELECT set_config("));
    assert.equal(setups.length, 1, JSON.stringify(all3));
    assert.equal(Number(setups[0].generic_plans) + Number(setups[0].custom_plans), 24);
    const statements = await preparedOn(pool, { reads: true });
    assert.equal(statements.length, 2, JSON.stringify(statements));
    const [plain] = statements.filter((s) => !/like/.test(s.statement));
    assert.match(plain.statement, /^select "id", "tenant_id", "name" from "projects"$/);
    // No parameters: PostgreSQL runs its generic plan every time, for both tenants alike.
    assert.equal(Number(plain.generic_plans) + Number(plain.custom_plans), 12);
    assert.equal(Number(plain.generic_plans), 12);
    const [withParam] = statements.filter((s) => /like/.test(s.statement));
    assert.equal(Number(withParam.generic_plans) + Number(withParam.custom_plans), 12);
    // On the wire: the read's set-up and the read, both only bound.
    const { result, texts, events } = await watched(pool, () => tenant.runAs(env.ids.globex, all));
    assert.deepEqual(names(result), ["globex-1"]);
    assert.deepEqual(events, ["B", "E", "B", "D", "E", "S", "write", "ready"], events.join(" "));
    assert.equal(texts[1], plain.statement);
  });
});

test("a prepared read whose table changed shape answers with the new shape, run again in the scope's transaction", async () => {
  await onOwnConnection(async ({ pool, tenant }) => {
    const read = (db) => db.execute(sql`select * from prep_shape`).then((r) => r.rows);
    assert.deepEqual(await tenant.runAs(env.ids.acme, read), [{ n: 1 }]);
    assert.deepEqual(await tenant.runAs(env.ids.acme, read), [{ n: 1 }]);
    const [before] = await preparedOn(pool, { reads: true });
    await withSchema("ALTER TABLE prep_shape ADD COLUMN extra int DEFAULT 5", "ALTER TABLE prep_shape DROP COLUMN extra", async () => {
      // PostgreSQL refuses the cached statement (0A000: its result type changed).
      const { result, texts } = await watched(pool, () => tenant.runAs(env.ids.acme, read));
      assert.deepEqual(result, [{ n: 1, extra: 5 }]);
      assert.ok(texts.some((t) => /^begin; /.test(t)), texts.join(" | "));
      // Its name is retired; the next read prepares the text again under a new one.
      assert.deepEqual(await tenant.runAs(env.ids.acme, read), [{ n: 1, extra: 5 }]);
      const now = (await preparedOn(pool)).filter((s) => s.statement === before.statement);
      assert.equal(now.length, 2, JSON.stringify(now));
      assert.deepEqual((await watched(pool, () => tenant.runAs(env.ids.acme, read))).result, [{ n: 1, extra: 5 }]);
    });
  });
});

test("a connection whose statements are gone (DEALLOCATE ALL) answers in the scope's transaction and prepares nothing more", async () => {
  await onOwnConnection(async ({ pool, tenant }) => {
    const all = (db) => db.select().from(projects).then(names);
    await tenant.runAs(env.ids.acme, all);
    assert.equal((await preparedOn(pool, { reads: true })).length, 1);
    await pool.query("DEALLOCATE ALL");
    // The read is bound to a statement the server no longer has (26000), then runs again.
    const lost = await watched(pool, () => tenant.runAs(env.ids.globex, all));
    assert.deepEqual(lost.result, ["globex-1"]);
    assert.ok(lost.texts.some((t) => /^begin; /.test(t)), lost.texts.join(" | "));
    for (const id of [env.ids.acme, env.ids.globex, env.ids.acme]) await tenant.runAs(id, all);
    assert.deepEqual(await preparedOn(pool), []);
    const unnamed = await watched(pool, () => tenant.runAs(env.ids.acme, all));
    assert.deepEqual(unnamed.result, ["acme-1", "acme-2"]);
    assert.deepEqual(unnamed.events, ["P", "B", "E", "P", "B", "D", "E", "S", "write", "ready"], unnamed.events.join(" "));
  });
});

test("a connection names at most 100 statements; later texts run unnamed and answer alike", async () => {
  await onOwnConnection(async ({ pool, tenant }) => {
    const answers = await tenant.runAs(env.ids.acme, async (db) => {
      const out = [];
      for (let i = 0; i < 110; i++) out.push((await db.execute(sql.raw(`select ${i}::int as n from projects limit 1`))).rows[0]?.n);
      return out;
    });
    assert.deepEqual(answers, Array.from({ length: 110 }, (_, i) => i));
    // (onOwnConnection()'s first scope ran in a transaction: it learnt the isolation, named
    // nothing.) The reads' set-up took one name.
    assert.equal((await preparedOn(pool)).length, 100);
    assert.equal((await preparedOn(pool, { reads: true })).length, 99);
  });
});

test("drizzleDatabase(db, { prepare: false }) prepares nothing; a prepare that is not a boolean is a config error naming it", async () => {
  const pool = new pg.Pool({ connectionString: env.url, max: 1 });
  try {
    const tenant = betterTenant({ database: drizzleDatabase(drizzle(pool), { prepare: false }), tenantResolver: { header: "x-tenant-id" }, loadTenant: false });
    for (const [id, expected] of [[env.ids.acme, ["acme-1", "acme-2"]], [env.ids.globex, ["globex-1"]], [env.ids.acme, ["acme-1", "acme-2"]]]) {
      assert.deepEqual(names(await tenant.runAs(id, (db) => db.select().from(projects))), expected);
    }
    const { events } = await watched(pool, () => tenant.runAs(env.ids.acme, (db) => db.select().from(projects)));
    assert.deepEqual(events, ["P", "B", "E", "P", "B", "D", "E", "S", "write", "ready"], events.join(" "));
    assert.deepEqual(await preparedOn(pool), []);
  } finally {
    await pool.end();
  }
  assert.throws(
    () => drizzleDatabase(env.db, { prepare: "yes" }),
    (e) => e.name === "TenantConfigError" && e.code === "INVALID_CONFIG" && /`prepare` must be true or false, got "yes"/.test(e.message),
  );
});

test("a policy created after a read was prepared applies to that read's next run", async () => {
  await onOwnConnection(async ({ pool, tenant }) => {
    const all = (db) => db.select().from(projects).then(names);
    for (let i = 0; i < 7; i++) assert.deepEqual(await tenant.runAs(env.ids.acme, all), ["acme-1", "acme-2"]);
    await withSchema("CREATE POLICY prep_hide ON projects AS RESTRICTIVE USING (name <> 'acme-2')", "DROP POLICY prep_hide ON projects", async () => {
      const { result, events } = await watched(pool, () => tenant.runAs(env.ids.acme, all));
      assert.deepEqual(result, ["acme-1"]);
      assert.deepEqual(events, ["B", "E", "B", "D", "E", "S", "write", "ready"], "still the prepared statement, only bound");
    });
    assert.deepEqual(await tenant.runAs(env.ids.acme, all), ["acme-1", "acme-2"]);
  });
});

test("a prepared read the server refuses for its values keeps its statement; one whose Parse failed is prepared anew", async () => {
  await onOwnConnection(async ({ pool, tenant }) => {
    const byId = (v) => (db) => db.execute(sql`select name from projects where id = ${v}::int`).then((r) => r.rows.length);
    assert.equal(await tenant.runAs(env.ids.acme, byId("1")), 1);
    assert.equal(await tenant.runAs(env.ids.acme, byId("1")), 1);
    await assert.rejects(tenant.runAs(env.ids.acme, byId("one")), (e) => (e.cause ?? e).code === "22P02");
    const { result, events } = await watched(pool, () => tenant.runAs(env.ids.acme, byId("1")));
    assert.equal(result, 1);
    assert.deepEqual(events, ["B", "E", "B", "D", "E", "S", "write", "ready"], "still prepared: only bound");
    assert.equal((await preparedOn(pool)).filter((s) => /where id = \$1::int/.test(s.statement)).length, 1);
    // The statement's Parse fails (no such table yet): its name goes, the connection keeps preparing.
    const later = (db) => db.execute(sql`select n from prep_later`).then((r) => r.rows);
    await assert.rejects(tenant.runAs(env.ids.acme, later), (e) => (e.cause ?? e).code === "42P01");
    await withSchema("CREATE TABLE prep_later (n int); INSERT INTO prep_later VALUES (3)", "DROP TABLE prep_later", async () => {
      assert.deepEqual(await tenant.runAs(env.ids.acme, later), [{ n: 3 }]);
      assert.deepEqual(await tenant.runAs(env.ids.acme, later), [{ n: 3 }]);
      assert.equal((await preparedOn(pool)).filter((s) => s.statement === "select n from prep_later").length, 1);
    });
  });
});

test("two reads of one text in flight at its first use: one Parse; when that Parse fails, the next use prepares it anew", async () => {
  await onOwnConnection(async ({ pool, tenant }) => {
    const twice = (db) => Promise.all([0, 1].map(() => db.execute(sql`select count(*)::int as n from projects`).then((r) => r.rows[0].n)));
    assert.deepEqual(await tenant.runAs(env.ids.acme, twice), [2, 2]);
    assert.equal((await preparedOn(pool, { reads: true })).filter((s) => /count\(\*\)/.test(s.statement)).length, 1);
    // The first Parse fails (no such table); the second read, bound to the name that was never
    // created, is refused as unknown (26000): a name never answered for, so the connection goes on preparing.
    const pipe = (db) => Promise.all([0, 1].map(() => db.execute(sql`select n from prep_pipe`).then((r) => r.rows)));
    await assert.rejects(tenant.runAs(env.ids.acme, pipe));
    await withSchema("CREATE TABLE prep_pipe (n int); INSERT INTO prep_pipe VALUES (4)", "DROP TABLE prep_pipe", async () => {
      assert.deepEqual(await tenant.runAs(env.ids.acme, pipe), [[{ n: 4 }], [{ n: 4 }]]);
      const { events } = await watched(pool, () => tenant.runAs(env.ids.acme, (db) => db.execute(sql`select n from prep_pipe`)));
      assert.deepEqual(events, ["B", "E", "B", "D", "E", "S", "write", "ready"], events.join(" "));
    });
  });
});

test("a value node-postgres cannot write closes the read's prepared statement: the next use prepares it under a new name", async () => {
  await onOwnConnection(async ({ pool, tenant }) => {
    const echo = (v) => (db) => db.execute(sql`select ${v}::text as v`).then((r) => r.rows[0].v);
    assert.equal(await tenant.runAs(env.ids.acme, echo("a")), "a");
    assert.equal(await tenant.runAs(env.ids.acme, echo("b")), "b");
    const unwritable = { toPostgres() { throw new Error("unwritable value"); } };
    await assert.rejects(tenant.runAs(env.ids.acme, echo(unwritable)), (e) => /unwritable value/.test((e.cause ?? e).message));
    const again = await watched(pool, () => tenant.runAs(env.ids.acme, echo("c")));
    assert.equal(again.result, "c");
    // (The failed read's own Sync may still be answered in this window: what was written counts.)
    const written = (events) => events.slice(0, events.indexOf("write") + 1);
    assert.deepEqual(written(again.events), ["B", "E", "P", "B", "D", "E", "S", "write"], "parsed again, under a new name");
    const then = await watched(pool, () => tenant.runAs(env.ids.acme, echo("d")));
    assert.equal(then.result, "d");
    assert.deepEqual(written(then.events), ["B", "E", "B", "D", "E", "S", "write"]);
  });
});
