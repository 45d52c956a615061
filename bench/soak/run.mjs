// bench/soak: the demo app under steady load for SOAK_SECONDS (default 180). Reports memory
// growth (least-squares slope of the server's RSS after a warm-up), request errors, and the
// data check: every acknowledged write present with exactly one audit entry (lost) and no audit
// entry without its write (phantom). Run through bench/soak.sh.
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import pg from "pg";

const SECONDS = Number(process.env.SOAK_SECONDS ?? 180);
const WORKERS = Number(process.env.SOAK_WORKERS ?? 16);
const WARMUP = Math.min(30, SECONDS / 4);
const admin = new URL(process.env.ADMIN_DATABASE_URL);
const socket = admin.searchParams.get("host");
const port = admin.searchParams.get("port");
const url = new URL(process.env.DATABASE_URL);
url.pathname = "/soak";
const SEAL_KEY = "soak-seal-key-0123456789abcdef-0123456789";

const child = spawn(process.execPath, [new URL("./app.mjs", import.meta.url).pathname, socket, port, url.toString(), SEAL_KEY], {
  stdio: ["ignore", "pipe", "inherit"],
});
const [httpPort, ...tenants] = await new Promise((resolve, reject) => {
  child.stdout.on("data", (d) => {
    const m = /^ready (\d+) (\S+) (\S+)/m.exec(String(d));
    if (m) resolve(m.slice(1));
  });
  child.on("exit", (code) => reject(new Error(`soak server exited with ${code}`)));
});
const base = `http://127.0.0.1:${httpPort}`;
const rssMb = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, "utf8"))[1]) / 1024;

const acknowledged = [];
let errors = 0;
let requests = 0;
const started = Date.now();
const until = started + SECONDS * 1000;
async function worker(i) {
  const tenant = tenants[i % tenants.length];
  const headers = { "x-tenant-id": tenant, "x-user": `u${i}`, "content-type": "application/json" };
  for (let n = 0; Date.now() < until; n++) {
    try {
      if (n % 2 === 0) {
        const res = await fetch(`${base}/api/projects`, { method: "POST", headers, body: JSON.stringify({ name: `soak-${i}-${n}` }) });
        const body = await res.json();
        if (res.status === 201) acknowledged.push(body.id);
        else errors++;
      } else {
        const res = await fetch(`${base}/api/projects/${acknowledged.at(-1) ?? 0}`, { headers });
        await res.arrayBuffer();
        if (res.status !== 200 && res.status !== 404) errors++;
      }
    } catch {
      errors++;
    }
    requests++;
  }
}
const samples = [];
const sampler = setInterval(() => samples.push([(Date.now() - started) / 60_000, rssMb()]), 5_000);
await Promise.all(Array.from({ length: WORKERS }, (_, i) => worker(i)));
clearInterval(sampler);
child.kill("SIGTERM");

// Least-squares slope of RSS over time, after the warm-up.
const steady = samples.filter(([t]) => t * 60 >= WARMUP);
const mean = (xs) => xs.reduce((s, x) => s + x, 0) / xs.length;
const [mt, mr] = [mean(steady.map(([t]) => t)), mean(steady.map(([, r]) => r))];
const slope = steady.reduce((s, [t, r]) => s + (t - mt) * (r - mr), 0) / steady.reduce((s, [t]) => s + (t - mt) ** 2, 0);

const db = new pg.Client({ host: socket, port: Number(port), user: "postgres", database: "soak" });
await db.connect();
const stored = new Set((await db.query("SELECT id FROM projects")).rows.map((r) => r.id));
const entries = (await db.query("SELECT record_id, count(*)::int AS n FROM audit_logs WHERE table_name = 'projects' AND operation = 'INSERT' GROUP BY record_id")).rows;
await db.end();
const audited = new Map(entries.map((e) => [Number(e.record_id), e.n]));
const lost = acknowledged.filter((id) => !stored.has(id) || audited.get(id) !== 1).length;
const phantom = entries.filter((e) => !stored.has(Number(e.record_id))).length;
console.log(
  `${requests} requests in ${SECONDS}s (${(requests / SECONDS).toFixed(0)}/s), ${acknowledged.length} acknowledged writes; RSS ${samples[0]?.[1].toFixed(0)} -> ${samples.at(-1)?.[1].toFixed(0)} MB`,
);
console.log(`soak rss-growth=${slope.toFixed(2)}MB/min errors=${errors} lost=${lost} phantom=${phantom}`);
process.exit(lost || phantom ? 1 : 0);
