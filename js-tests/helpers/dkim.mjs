// DKIM verification by an independent implementation: Python's dkimpy, with a DNS function that
// answers the test's own TXT record. scripts/setup.sh installs dkimpy in a venv and
// scripts/env.sh names its python (USEBETTER_PYTHON).
import { execFileSync } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const PYTHON = process.env.USEBETTER_PYTHON ?? "python3";
const CHECK = `
import sys, json, dkim
cases = json.load(open(sys.argv[1]))
print(json.dumps([bool(dkim.verify(m.encode("latin-1"), dnsfunc=lambda name, timeout=5, r=r.encode(): r)) for m, r in cases]))
`;

/** One dkimpy run for a list of `[message (string of bytes as latin-1), TXT record]`: whether each verifies. */
export function dkimpyVerdicts(cases) {
  const dir = mkdtempSync(join(tmpdir(), "usebetter-dkim-"));
  try {
    const file = join(dir, "cases.json");
    writeFileSync(file, JSON.stringify(cases));
    return JSON.parse(execFileSync(PYTHON, ["-c", CHECK, file], { encoding: "utf8" }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Fresh signing keys: `[kind, private key PEM, DNS TXT record]` for RSA-2048 (PKCS#8 and PKCS#1) and ed25519. */
export function dkimKeys() {
  const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const ed = generateKeyPairSync("ed25519");
  const rsaRecord = `v=DKIM1; k=rsa; p=${rsa.publicKey.export({ type: "spki", format: "der" }).toString("base64")}`;
  return [
    ["rsa", rsa.privateKey.export({ type: "pkcs8", format: "pem" }), rsaRecord],
    ["rsa-pkcs1", rsa.privateKey.export({ type: "pkcs1", format: "pem" }), rsaRecord],
    // The raw 32-byte key: the SPKI's last 32 bytes (RFC 8463 §4.2).
    ["ed25519", ed.privateKey.export({ type: "pkcs8", format: "pem" }), `v=DKIM1; k=ed25519; p=${ed.publicKey.export({ type: "spki", format: "der" }).subarray(12).toString("base64")}`],
  ];
}
