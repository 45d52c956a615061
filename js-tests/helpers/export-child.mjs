// Runs one audit export of a whole database into a counting sink and prints what it saw as
// JSON; started by audit-scale.test.mjs with a small heap, so buffering the export would fail.
import pg from "pg";
import { drizzle } from "drizzle-orm/node-postgres";
import { betterAudit } from "@usebetterdev/audit";
import { drizzleAuditAdapter } from "@usebetterdev/audit/drizzle";

const [url, optionsJson] = process.argv.slice(2);
const pool = new pg.Pool({ connectionString: url, max: 1 });
const audit = betterAudit({ database: drizzleAuditAdapter(drizzle(pool)), auditTables: ["users", "orders"] });
let bytes = 0;
let lines = 0;
let head = "";
let tail = "";
const sink = new WritableStream({
  write(chunk) {
    bytes += chunk.length;
    for (let i = chunk.indexOf("\n"); i !== -1; i = chunk.indexOf("\n", i + 1)) lines++;
    if (head.length < 200) head += chunk.slice(0, 200);
    tail = (tail + chunk).slice(-200);
  },
});
let peak = process.memoryUsage().rss;
const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 10);
const t0 = performance.now();
const result = await audit.export({ ...JSON.parse(optionsJson), output: sink });
clearInterval(timer);
peak = Math.max(peak, process.memoryUsage().rss);
await pool.end();
console.log(JSON.stringify({ rowCount: result.rowCount, bytes, lines, head, tail, peakMb: peak / 2 ** 20, seconds: (performance.now() - t0) / 1000 }));
