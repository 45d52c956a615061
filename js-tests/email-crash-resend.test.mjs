// suite: once (scripts/test.sh runs it once; the `better-email` bin runs on the native addon)
// Crash safety of the CLI worker (spec §20 E2), to the fake Resend in batches of 100: the worker
// SIGKILLed at five random moments while it hands off 10,000 messages. The fake sees requests
// made again (a killed worker's batches, repeated whole and identical) and accepts each email
// exactly once (idempotency keys); every message ends `sent`. Not run through PgBouncer: this
// worker uses `--prepare`, which PgBouncer carries in transaction mode only from 1.21 with
// `max_prepared_statements`. The SMTP half is email-crash.test.mjs.
import { test } from "node:test";
import assert from "node:assert/strict";
import { crashHarness } from "./helpers/email-crash.mjs";
import { fakeResend } from "@usebetterdev/email/testing";

// Answers after 200 ms, having accepted the emails first: kills land between the two.
const { receiver, crashRun, tally } = crashHarness("email_crash_resend", () => fakeResend({ apiKey: "re_crash", latencyMs: 200 }));

test("E2 (Resend, batches of 100): killed five times, the fake sees requests repeated and accepts each email exactly once", { timeout: 300_000 }, async () => {
  const fake = receiver();
  await crashRun(
    "email-crash-resend",
    {
      imports: `import { resend } from "@usebetterdev/email/resend";`,
      transport: `resend({ apiKey: "re_crash", baseUrl: ${JSON.stringify(fake.url)}, timeoutMs: 1000 })`,
      // This run's worker uses named prepared statements (each restart prepares them again).
      flags: ["--prepare"],
    },
    () => fake.emails.length,
  );
  const { missing, duplicates } = tally(fake.emails.map((m) => /^Message (\d+)$/.exec(String(m.body.subject))?.[1]));
  assert.deepEqual(missing.slice(0, 5), [], `${missing.length} messages never reached the fake`);
  assert.equal(duplicates, 0, "no email accepted twice");
  assert.ok(fake.replayed > 0, `the fake answered ${fake.replayed} requests from its idempotency record: a killed worker's batches were made again`);
  assert.equal(fake.conflicts, 0, "every repeat was the identical request");
});
