// Shared by the webhooks bench processes: database URLs, the webhooks configuration, CPU time
// of the private PostgreSQL's backends, and percentiles.
import { readFileSync, readdirSync } from "node:fs";
import { randomBytes, randomUUID } from "node:crypto";
import pg from "pg";

export const EVENT = "order.created";
export const QUEUE = "webhooks";
export const SECRETS_KEY = randomBytes(32).toString("base64");

export function urlOf(database, user = "app") {
  const u = new URL(process.env.DATABASE_URL);
  u.pathname = `/${database}`;
  if (user !== "app") u.username = user;
  return u.toString();
}

/** A superuser connection (it sees every tenant's rows: the bench's own progress checks). */
export async function admin(database = "postgres") {
  const u = new URL(process.env.ADMIN_DATABASE_URL);
  const c = new pg.Client({ host: u.searchParams.get("host"), port: Number(u.searchParams.get("port")), user: "postgres", database });
  await c.connect();
  return c;
}

/** The configuration both the sender and the worker use (loopback receiver allowed). */
export function webhooksConfig(database, secretsKey) {
  return {
    database,
    eventTypes: [EVENT],
    secretsKey,
    network: { allowHttp: true, allowNetworks: ["127.0.0.1/32"] },
  };
}

/** CPU ticks used so far by each process of our cluster (postmaster, backends, helpers). */
export function postgresTicks() {
  const postmaster = Number(readFileSync(`${process.env.PGDATA_DIR}/postmaster.pid`, "utf8").split("\n")[0]);
  const ticks = new Map();
  for (const pid of readdirSync("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    let stat;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    } catch {
      continue;
    }
    // Fields after the command name (which may contain spaces): state ppid … utime(14) stime(15).
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (Number(f[1]) === postmaster || Number(pid) === postmaster) ticks.set(pid, Number(f[11]) + Number(f[12]));
  }
  return ticks;
}

/** CPU seconds the cluster used between two `postgresTicks()` (processes gone by `after` are left out). */
export function postgresCpuSeconds(before, after) {
  let ticks = 0;
  for (const [pid, t] of after) ticks += t - (before.get(pid) ?? 0);
  return ticks / 100;
}

export const cpuSeconds = (u) => (u.user + u.system) / 1e6;

export function percentile(sorted, p) {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] : NaN;
}

/** The one statement `fn` sends on `client`, as node-postgres received it (named or not). */
export async function captureStatement(client, fn) {
  const query = client.query;
  const seen = [];
  client.query = function (q, v) {
    seen.push(typeof q === "string" ? { text: q, values: v } : { name: q.name, text: q.text, values: q.values });
    return query.call(this, q, v);
  };
  try {
    await fn();
  } finally {
    client.query = query;
  }
  if (seen.length !== 1) throw new Error(`the call sent ${seen.length} statements, not one`);
  return seen[0];
}
/**
 * `values` with every UUID after the first parameter (the tenant, kept) replaced by a new
 * time-ordered one (index inserts at the edge, as the packages' ids), arrays included, the same
 * UUID by the same new one (a message's id and its recipients' reference to it): a captured
 * statement replayed as a new message.
 */
export function freshIds(values) {
  const renamed = new Map();
  const fresh = (v) => (Array.isArray(v) ? v.map(fresh) : isUuid(v) ? renamed.get(v) ?? renamed.set(v, uuidV7()).get(v) : v);
  return values.map((v, i) => (i === 0 ? v : fresh(v)));
}
const isUuid = (v) => typeof v === "string" && /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(v);
function uuidV7() {
  const hex = Date.now().toString(16).padStart(12, "0") + randomUUID().replaceAll("-", "").slice(12);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-7${hex.slice(13, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}
