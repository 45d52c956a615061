// `better-email worker`: the package's delivery engine in this process, on a node-postgres pool,
// with the transports of the `email` section of better.config.*. The addon has already checked
// the options, the database and the schema; this module only runs the loop and stops it on a
// signal or a deadline. A stop finishes the round in progress; a kill leaves leases that expire
// and are reaped (the mail is `ambiguous`, then sent again or held as `onAmbiguous` says).
import pg from "pg";
import { untilStopped } from "@usebetter-rs/core/cli";
import { betterEmail } from "@usebetterdev/email";
import { sqlEmailAdapter } from "@usebetterdev/email/sql";

/**
 * Runs the worker: `section` is the loaded config's `email` section (transports included),
 * `options` the addon's checked options. Resolves to the exit code once stopped.
 */
export async function runWorker({ section, databaseUrl, options }, { signals = process, write = (line) => process.stderr.write(line) } = {}) {
  const json = options.json === true;
  const say = (event, fields, text) => write(json ? `${JSON.stringify({ event, ...fields })}\n` : `better-email worker: ${text}\n`);
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 4 });
  // An idle connection dropped by the server is replaced on next use.
  pool.on("error", () => {});
  let code = 0;
  try {
    const email = betterEmail({ ...section, database: sqlEmailAdapter(pool) });
    if (options.once) {
      const { handed } = await email.drain({ maxMs: (options.maxSeconds ?? 3600) * 1000, maxMessages: Number.MAX_SAFE_INTEGER, concurrency: options.concurrency });
      say("drained", { handed }, `handed off ${handed}; nothing more is due`);
    } else {
      const worker = email.createWorker({ concurrency: options.concurrency });
      await worker.start();
      say("started", { concurrency: options.concurrency, pid: process.pid }, `started (concurrency ${options.concurrency}, pid ${process.pid})`);
      const reason = await untilStopped(signals, options.maxSeconds);
      say("stopping", { reason }, `stopping (${reason}): finishing the round in progress`);
      await worker.stop();
      say("stopped", {}, "stopped");
    }
  } catch (err) {
    write(`${err?.message ?? err}\n`);
    code = 1;
  } finally {
    await pool.end();
  }
  return code;
}
