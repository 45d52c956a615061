// `better-webhooks worker`: the package's delivery engine in this process, on a node-postgres
// pool. The addon has already checked the options, the config and the schema; this module only
// runs the loop and stops it on a signal or a deadline. A stop lets in-flight requests finish
// (the engine's `shutdownTimeoutMs`); a kill leaves leases that expire and are claimed again.
import pg from "pg";
import { untilStopped } from "@usebetter-rs/core/cli";
import { betterWebhooks } from "@usebetterdev/webhooks";
import { sqlExecutorAdapter } from "@usebetterdev/webhooks/sql";

/**
 * Runs the worker described by the addon's outcome; resolves to the exit code once stopped.
 * `signals` is where SIGTERM/SIGINT come from (the process, or an emitter in tests).
 */
export async function runWorker({ config, databaseUrl, options }, { signals = process, write = (line) => process.stderr.write(line) } = {}) {
  const json = options.json === true;
  const say = (event, fields, text) => write(json ? `${JSON.stringify({ event, ...fields })}\n` : `better-webhooks worker: ${text}\n`);
  // Connections for concurrent claims and records; requests hold none.
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 4 });
  // An idle connection dropped by the server (restart, terminate) is replaced on next use;
  // the engine reports and retries the statement that meets the failure.
  pool.on("error", () => {});
  // `--prepare`: the engine's statements are parsed and planned once per connection.
  const hooks = betterWebhooks({ ...config, database: sqlExecutorAdapter(pool, { prepare: options.prepare === true }) });
  let code = 0;
  try {
    if (options.once) {
      const maxMs = (options.maxSeconds ?? 3600) * 1000;
      const { delivered } = await hooks.drain({ maxMs, maxDeliveries: Number.MAX_SAFE_INTEGER, concurrency: options.concurrency });
      say("drained", { delivered }, `delivered ${delivered}; nothing more is due`);
    } else {
      const worker = hooks.createWorker({ concurrency: options.concurrency });
      await worker.start();
      say("started", { concurrency: options.concurrency, pid: process.pid }, `started (concurrency ${options.concurrency}, pid ${process.pid})`);
      const reason = await untilStopped(signals, options.maxSeconds);
      say("stopping", { reason }, `stopping (${reason}): finishing in-flight requests`);
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
