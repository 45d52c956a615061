// The package's fake Resend (`fakeResend({ apiKey, latencyMs: 20 })`: answers every accepted
// request 20 ms after it arrived), in its own process so its CPU is counted apart. Forked by
// run.mjs, once per side (the fake keeps every email it accepted in memory): reports its URL;
// { round: n } expects n emails; "stats" answers { count, doneAt, cpu }; "stop" exits.
import { fakeResend } from "@usebetterdev/email/testing";
import { API_KEY } from "./common.mjs";

const fake = await fakeResend({ apiKey: API_KEY, latencyMs: 20 });
let expected = Infinity;
let doneAt = null;
// The fake appends each accepted email to this array: the moment the round's last one is
// pushed is when the fake has received all of them (exact, and no change to the fake).
const emails = fake.emails;
const push = emails.push;
emails.push = function (...items) {
  const n = push.apply(this, items);
  if (n === expected) doneAt = Date.now();
  return n;
};
process.on("message", async (m) => {
  if (m?.round !== undefined) expected = m.round;
  else if (m === "stats") {
    // Should the fake ever hand out a copy rather than its own array, the poll sees it (≤ 50 ms late).
    if (doneAt === null && fake.emails.length >= expected) doneAt = Date.now();
    process.send({ count: fake.emails.length, requests: fake.requests, doneAt, cpu: process.cpuUsage() });
  } else if (m === "stop") await fake.close().then(() => process.exit(0));
});
process.send({ url: fake.url });
// Orphaned (run.mjs gone): exit rather than linger.
process.on("disconnect", () => process.exit(1));
