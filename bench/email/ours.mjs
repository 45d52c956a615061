// Ours as the spec has it: the CLI worker, `better-email worker --concurrency C --prepare --json`
// (named prepared statements, as bench/webhooks runs ours), in its own
// process, with a better.config.mjs (in a temporary directory) whose `email` section holds the
// transport: `smtp({ …, pool: { max } })` or `resend({ apiKey, baseUrl })`. The CLI checks the
// database first; the measured run starts when it says `started` (its loop is then claiming).
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { processCpuSeconds } from "./common.mjs";

const CLI = fileURLToPath(new URL("../bin/cli.mjs", import.meta.resolve("@usebetterdev/email-cli")));
// The config lives outside the repository: it imports the transports by absolute URL.
const SMTP = import.meta.resolve("@usebetterdev/email/smtp");
const RESEND = import.meta.resolve("@usebetterdev/email/resend");

/** Writes the worker's config for `kind` ("smtp", or "http…" for resend() with `batch`) into `dir`; its path. */
export function writeConfig(dir, kind, section, { port, origin, apiKey, poolMax, batch }) {
  const transport =
    kind === "smtp"
      ? `smtp(${JSON.stringify({ host: "127.0.0.1", port, secure: "none", pool: { max: poolMax } })})`
      : `resend(${JSON.stringify({ apiKey, baseUrl: origin, ...(batch !== undefined ? { batch } : {}) })})`;
  const path = join(dir, `better.config.${kind}.mjs`);
  writeFileSync(
    path,
    `import { smtp } from ${JSON.stringify(SMTP)};\nimport { resend } from ${JSON.stringify(RESEND)};\n` +
      `export default { email: { ...${JSON.stringify(section)}, transport: ${transport} } };\n`,
  );
  return path;
}

/**
 * Starts the CLI worker on `config` (`track(child)`: the caller's cleanup list); resolves once it has started, to { pid, t0, cpu0, stop() }:
 * t0 is when its `started` line arrived, cpu0 its CPU seconds then (startup and checks are not
 * counted), stop() sends SIGTERM (it finishes its round) and resolves when it has exited.
 */
export function startOurs({ config, url, concurrency, track = () => {} }) {
  // BENCH_CPU_PROF=<dir>: a V8 CPU profile of the worker (as the webhooks bench does).
  const prof = process.env.BENCH_CPU_PROF ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [];
  const child = spawn(process.execPath, [...prof, CLI, "worker", "--config", config, "--concurrency", String(concurrency), "--prepare", "--json"], {
    env: { ...process.env, DATABASE_URL: url },
    stdio: ["ignore", "inherit", "pipe"],
  });
  track(child);
  const exited = new Promise((r) => child.once("exit", (code, signal) => r({ code, signal })));
  return new Promise((resolve, reject) => {
    let buffered = "";
    let started = false;
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (chunk) => {
      buffered += chunk;
      let nl;
      while ((nl = buffered.indexOf("\n")) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        let event = null;
        try {
          event = JSON.parse(line).event;
        } catch {
          // Not one of its JSON events (a logged error): shown as is.
        }
        if (event === "started" && !started) {
          started = true;
          const t0 = Date.now();
          resolve({
            pid: child.pid,
            t0,
            cpu0: processCpuSeconds(child.pid),
            async stop() {
              child.kill("SIGTERM");
              const { code, signal } = await exited;
              if (code !== 0) throw new Error(`better-email worker exited with ${code ?? signal}`);
            },
          });
        } else if (event !== "stopping" && event !== "stopped") {
          process.stderr.write(`better-email worker: ${line}\n`);
        }
      }
    });
    exited.then(({ code, signal }) => {
      if (!started) reject(new Error(`better-email worker exited with ${code ?? signal} before it started`));
    });
  });
}
