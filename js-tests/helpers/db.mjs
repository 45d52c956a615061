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
