// suite: once (scripts/test.sh runs it once; the `better-email` bin runs on the native addon)
// suite: pgbouncer (scripts/test.sh runs it again through PgBouncer in transaction mode)
// Crash safety of the CLI worker (spec §20 E2), to an SMTP sink on loopback: 10,000 messages
// handed off by `better-email worker --concurrency 16` while the test SIGKILLs it at five random
// moments and starts it again. Every message reaches the sink at least once, the duplicates are
// at most what five kills can leave in flight (5 × 16), every message ends `sent` (none lost,
// none left in flight or held), and some were handed off again after a kill, so the kills
// mattered. The Resend half is email-crash-resend.test.mjs.
import { test } from "node:test";
import assert from "node:assert/strict";
import { crashHarness, CONCURRENCY, KILLS } from "./helpers/email-crash.mjs";
import { smtpSink } from "./helpers/smtp-sink.mjs";

const { receiver, crashRun, tally } = crashHarness("email_crash", () => smtpSink());

test("E2 (SMTP): the CLI worker SIGKILLed five times loses nothing, leaves nothing in flight, and duplicates at most 5 × 16", { timeout: 300_000 }, async () => {
  const sink = receiver();
  await crashRun(
    "email-crash",
    {
      imports: `import { smtp } from "@usebetterdev/email/smtp";`,
      transport: `smtp({ host: "127.0.0.1", port: ${sink.port}, secure: "none", pool: { max: 8 }, timeoutMs: 1000, connectTimeoutMs: 1000 })`,
    },
    () => sink.state.messages.length,
  );
  const { missing, duplicates } = tally(sink.state.messages.map((m) => /^Subject: Message (\d+)\r$/m.exec(m.raw.toString())?.[1]));
  assert.deepEqual(missing.slice(0, 5), [], `${missing.length} messages never reached the sink`);
  assert.ok(duplicates <= KILLS * CONCURRENCY, `${duplicates} duplicate messages at the sink`);
});
