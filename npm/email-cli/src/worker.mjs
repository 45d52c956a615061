// `better-email worker`: the package's delivery engine in this process, on a node-postgres pool,
// with the transports of the `email` section of better.config.*. The addon has already checked
// the options, the database and the schema; this module only runs the loop and stops it on a
// signal or a deadline. A stop finishes the round in progress; a kill leaves leases that expire
// and are reaped (the mail is `ambiguous`, then sent again or held as `onAmbiguous` says).
import { untilStopped } from "@usebetter-rs/core/cli";
import { withEmail } from "./instance.mjs";

/**
 * Runs the worker: `section` is the loaded config's `email` section (transports included),
 * `options` the addon's checked options. Resolves to the exit code once stopped.
 */
export async function runWorker({ section, databaseUrl, options }, { signals = process, write = (line) => process.stderr.write(line) } = {}) {
  const json = options.json === true;
  const say = (event, fields, text) => write(json ? `${JSON.stringify({ event, ...fields })}\n` : `better-email worker: ${text}\n`);
  return withEmail({ section, databaseUrl, max: 4, prepare: options.prepare === true }, write, async (email) => {
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
  });
}
