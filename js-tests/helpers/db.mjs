// Real PostgreSQL for tests: a fresh database per test file, created through the superuser's
// unix socket and used over TCP as roles that are neither superuser nor BYPASSRLS.
import assert from "node:assert/strict";
import pg from "pg";
import { readFileSync } from "node:fs";

export function requireEnv(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run eval "$(scripts/pg.sh up)" first, or use scripts/test.sh`);
  return v;
}

export const fixture = (name) => readFileSync(new URL(`../fixtures/${name}`, import.meta.url), "utf8");

export async function admin(database = "postgres") {
  const url = new URL(requireEnv("ADMIN_DATABASE_URL"));
  url.pathname = `/${database}`;
  // pg reads the socket directory from the `host` query parameter.
  const client = new pg.Client({
    host: url.searchParams.get("host"),
    port: Number(url.searchParams.get("port")),
    user: "postgres",
    database,
  });
  await client.connect();
  return client;
}

/** Creates a database owned by `owner` and returns a function that drops it. */
export async function freshDatabase(prefix, owner = "app") {
  const name = `${prefix}_${process.pid}_${Date.now().toString(36)}`;
  const a = await admin();
  await a.query(`CREATE DATABASE "${name}" OWNER "${owner}"`);
  await a.end();
  return {
    name,
    async drop() {
      const b = await admin();
      // A pool's end() resolves once it has asked its connections to close, not once the
      // backends have gone; terminating one still closing makes its client emit an error after
      // the test. Wait (up to 5 s) for them to leave on their own, then force the rest.
      for (let i = 0; i < 100; i++) {
        const { rows } = await b.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1", [name]);
        if (rows[0].n === 0) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      await b.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await b.end();
    },
  };
}

export async function connectAs(user, password, database) {
  const url = new URL(requireEnv("DATABASE_URL"));
  const client = new pg.Client({ host: url.hostname, port: Number(url.port), user, password, database });
  await client.connect();
  return client;
}

/** Runs `fn` in a transaction with the given settings, always rolled back. */
export async function inScope(client, settings, fn) {
  await client.query("BEGIN");
  try {
    for (const [k, v] of Object.entries(settings)) {
      await client.query("SELECT set_config($1, $2, true)", [k, v]);
    }
    return await fn();
  } finally {
    await client.query("ROLLBACK");
  }
}

/** The role that owns the tables in tests: the application role (`app`) must not own them. */
export const OWNER = { user: "rls_owner", password: "owner" };

export async function ensureOwnerRole() {
  const a = await admin();
  await a.query(`DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'rls_owner') THEN
    CREATE ROLE rls_owner LOGIN PASSWORD 'owner' NOSUPERUSER NOBYPASSRLS; END IF; END $$`);
  await a.end();
}

/** DML for the application role on everything `rls_owner` created in `public`: no TRUNCATE, no ownership. */
export const APP_GRANTS = "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO app; GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO app";

/** A database whose tables `setup(ownerClient)` creates as `rls_owner`; then `app` gets DML on them. */
export async function ownedDatabase(prefix, setup) {
  await ensureOwnerRole();
  const db = await freshDatabase(prefix, OWNER.user);
  const c = await connectAs(OWNER.user, OWNER.password, db.name);
  try {
    await setup?.(c);
  } finally {
    await c.end();
  }
  // As the superuser: `setup` may have handed a table to another owner.
  const a = await admin(db.name);
  try {
    await a.query(APP_GRANTS);
  } finally {
    await a.end();
  }
  return db;
}

/** What a migration leaves in the public schema: relations, RLS flags, indexes, constraints, policies, functions, and the rows of its `meta` table. */
export async function catalogState(c, meta) {
  const { rows } = await c.query(`SELECT string_agg(d, E'\\n' ORDER BY d) AS s FROM (
      SELECT format('rel %s %s %s %s %s', c.relname, c.relkind, c.relrowsecurity, c.relforcerowsecurity, pg_get_expr(c.relpartbound, c.oid)) AS d
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public'
      UNION ALL SELECT format('idx %s', pg_get_indexdef(i.indexrelid)) FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public'
      UNION ALL SELECT format('con %s %s', co.conname, pg_get_constraintdef(co.oid)) FROM pg_constraint co
        JOIN pg_namespace n ON n.oid = co.connamespace WHERE n.nspname = 'public'
      UNION ALL SELECT format('pol %s %s %s %s', p.polrelid::regclass, p.polname, pg_get_expr(p.polqual, p.polrelid), pg_get_expr(p.polwithcheck, p.polrelid))
        FROM pg_policy p
      UNION ALL SELECT format('fn %s %s %s %s', p.oid::regprocedure, p.prosecdef, p.proconfig, md5(p.prosrc)) FROM pg_proc p
        JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public'
      UNION ALL SELECT format('meta %s %s', key, value) FROM ${meta}) x`);
  return rows[0].s;
}

/**
 * The round trip every table tool's `migrate` passes (`noun`: `webhook`, `email`): applied to
 * a fresh database it reports what it applied and records schema version `version`; a second run
 * changes nothing and says so; `--dry-run` and `-o` give the SQL it applies, which makes the
 * same catalog on another fresh database; `--no-rls` leaves RLS out; `--rls --no-rls` is a
 * usage error (exit 2). `run(database, args)` runs the tool as `app`; `connect(database)` opens
 * a client as `app`. Returns the migrated catalog state (`catalogState`) for more assertions.
 */
export async function migrateRoundTrip(noun, { run, connect, dir, created, version = 1 }) {
  const ok = async (db, args) => {
    const r = await run(db, args);
    assert.equal(r.code, 0, `${args.join(" ")}: ${r.stderr}${r.stdout}`);
    return r.stdout;
  };
  const a = await freshDatabase(`${noun}_migrate`);
  const b = await freshDatabase(`${noun}_dry`);
  created.push(a, b);
  assert.equal(await ok(a.name, ["migrate"]), `applied: ${noun} tables, indexes, partitions and tenant isolation\n`);
  const ca = await connect(a.name);
  const first = await catalogState(ca, `${noun}_meta`);
  assert.match(first, new RegExp(`^meta schema_version ${version}$`, "m"));
  assert.equal(await ok(a.name, ["migrate"]), `${noun} tables are up to date; nothing applied\n`);
  assert.equal(await catalogState(ca, `${noun}_meta`), first, "the second run changes nothing");
  assert.deepEqual(JSON.parse(await ok(a.name, ["migrate", "--json"])), { applied: true, changed: false, rls: true });

  const dry = await ok(a.name, ["migrate", "--dry-run"]);
  assert.match(await ok(a.name, ["migrate", "-o", `${noun}.sql`]), new RegExp(`^wrote .*${noun}\\.sql`));
  assert.equal(readFileSync(`${dir}/${noun}.sql`, "utf8"), dry);
  const cb = await connect(b.name);
  await cb.query(dry);
  assert.equal(await catalogState(cb, `${noun}_meta`), first, "the printed SQL makes what migrate applies");
  assert.doesNotMatch(await ok(a.name, ["migrate", "--dry-run", "--no-rls"]), /ROW LEVEL SECURITY/);
  const usage = await run(a.name, ["migrate", "--rls", "--no-rls"]);
  assert.equal(usage.code, 2);
  assert.equal(usage.errorCode, "CLI_USAGE");
  return first;
}
