// Real PostgreSQL for tests: a fresh database per test file, created through the superuser's
// unix socket and used over TCP as roles that are neither superuser nor BYPASSRLS.
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
