// Addresses (spec E7): the table of core/tests/fixtures/email/addresses.json through the
// backend USEBETTER_BINDING selects, with the same verdicts on native and wasm. Internationalised
// domains are converted the way the package converts them, with the WHATWG URL host parser.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import core from "@usebetter-rs/core";
import { loadBackend, sameOnBoth } from "./helpers/backends.mjs";

const table = JSON.parse(readFileSync(new URL("../core/tests/fixtures/email/addresses.json", import.meta.url), "utf8"));
const same = sameOnBoth(loadBackend("native"), loadBackend("wasm"), assert.deepEqual);

/** `local@domain` with the domain in A-labels (UTS #46, as every JS runtime's URL does it). */
function toALabels(address) {
  const at = address.lastIndexOf("@");
  return `${address.slice(0, at)}@${new URL(`http://${address.slice(at + 1)}`).hostname}`;
}

test("the address table: accept or reject with the reason, naming the field", () => {
  assert.ok(table.length >= 80, String(table.length));
  let accepted = 0;
  let refused = 0;
  for (const row of table) {
    const options = { smtpUtf8: row.smtpUtf8 ?? false, field: "to[2]" };
    const input = row.idn ? toALabels(row.input) : row.input;
    const label = JSON.stringify(row.input);
    const r = same(label, (b) => b.emailParseAddress(input, options));
    if (row.ok) {
      assert.equal(r.code, undefined, `${label}: ${r.message}`);
      assert.equal(r.ok.address, row.address ?? (typeof input === "string" ? input : input.address), label);
      assert.equal(r.ok.name, row.name, label);
      assert.equal(r.ok.key, r.ok.address.toLowerCase(), label);
      accepted++;
    } else {
      assert.equal(r.code, "EMAIL_INVALID_ADDRESS", `${label}: ${r.message}`);
      assert.ok(r.message.includes(row.reason), `${label}: ${r.message}`);
      assert.ok(r.message.includes("`to[2]`"), r.message);
      refused++;
    }
  }
  assert.ok(accepted >= 30 && refused >= 40, `${accepted} ${refused}`);
});

test("an IDN domain is refused as given and accepted after WHATWG URL conversion", () => {
  assert.equal(new URL("http://bücher.example").hostname, "xn--bcher-kva.example");
  assert.throws(() => core.emailParseAddress("user@bücher.example", null), { code: "EMAIL_INVALID_ADDRESS", message: /new URL\(/ });
  assert.deepEqual(core.emailParseAddress(toALabels("User@Bücher.example"), null), { address: "User@xn--bcher-kva.example", key: "user@xn--bcher-kva.example" });
});

test("recipients: duplicates dropped case-insensitively, maxRecipients enforced", () => {
  const input = { to: ["a@x.example", "Jane <A@X.example>"], cc: "b@x.example", bcc: [{ address: "B@x.EXAMPLE" }, "c@x.example"] };
  const r = same("recipients", (b) => b.emailRecipients(input, null)).ok;
  assert.deepEqual(r.to.map((m) => m.address), ["a@x.example"]);
  assert.deepEqual(r.cc.map((m) => m.address), ["b@x.example"]);
  assert.deepEqual(r.bcc.map((m) => m.address), ["c@x.example"]);
  const over = same("over", (b) => b.emailRecipients(input, { maxRecipients: 2 }));
  assert.equal(over.code, "EMAIL_TOO_MANY_RECIPIENTS");
  assert.match(over.message, /3 distinct recipients, over the limit of 2/);
  const bad = same("bad", (b) => b.emailRecipients({ to: "ok@x.example", cc: ["a@x.example", "b@x..example"] }, null));
  assert.equal(bad.code, "EMAIL_INVALID_ADDRESS");
  assert.match(bad.message, /`cc\[1\]`/);
});
