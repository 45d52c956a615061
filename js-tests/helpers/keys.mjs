// Test tokens signed with Node's crypto and the core's fixture keys, so the Rust verifier is
// checked against an independent JWT implementation.
import { createHmac, createPrivateKey, sign as cryptoSign } from "node:crypto";
import { readFileSync } from "node:fs";

const keyDir = new URL("../../core/tests/fixtures/keys/", import.meta.url);
export const readKey = (name) => readFileSync(new URL(name, keyDir), "utf8");
export const SECRET = "0123456789abcdef0123456789abcdef";

const b64 = (buf) => Buffer.from(buf).toString("base64url");

export function signJwt(payload, alg = "HS256", header = {}) {
  const input = `${b64(JSON.stringify({ alg, typ: "JWT", ...header }))}.${b64(JSON.stringify(payload))}`;
  let sig;
  if (alg === "HS256") sig = createHmac("sha256", SECRET).update(input).digest();
  else if (alg === "RS256") sig = cryptoSign("sha256", Buffer.from(input), createPrivateKey(readKey("rsa.key")));
  else if (alg === "ES256")
    sig = cryptoSign("sha256", Buffer.from(input), { key: createPrivateKey(readKey("ec.key")), dsaEncoding: "ieee-p1363" });
  else if (alg === "EdDSA") sig = cryptoSign(null, Buffer.from(input), createPrivateKey(readKey("ed.key")));
  else sig = Buffer.alloc(0);
  return `${input}.${b64(sig)}`;
}

export const nowSeconds = () => Math.floor(Date.now() / 1000);
