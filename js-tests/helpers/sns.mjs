// SNS as the email suites meet it: a CA made here with openssl, an SNS signing certificate it
// issued (and a rogue self-signed one), a loopback HTTPS server (its own certificate from the
// same CA) serving them as SNS would, and messages signed with SignatureVersion 1 or 2.
import { execFileSync } from "node:child_process";
import { createSign, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, get } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const TOPIC = "arn:aws:sns:us-east-1:123456789012:ses-events";

/** Starts the certificate server; `close()` stops it and removes the files. */
export async function snsPki() {
  const dir = mkdtempSync(join(tmpdir(), "usebetter-sns-"));
  const ssl = (...args) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
  ssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-subj", "/CN=Test CA", "-days", "2");
  for (const [name, subj, ext] of [["sns", "/CN=sns.amazonaws.com", null], ["tls", "/CN=127.0.0.1", "subjectAltName=IP:127.0.0.1"]]) {
    ssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", subj);
    if (ext) writeFileSync(join(dir, `${name}.ext`), ext);
    ssl("x509", "-req", "-in", `${name}.csr`, "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", `${name}.pem`, "-days", "2", "-sha256", ...(ext ? ["-extfile", `${name}.ext`] : []));
  }
  ssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "rogue.key", "-out", "rogue.pem", "-subj", "/CN=sns.amazonaws.com", "-days", "2");
  const pki = {};
  for (const f of ["ca.pem", "sns.key", "sns.pem", "tls.key", "tls.pem", "rogue.key", "rogue.pem"]) pki[f] = readFileSync(join(dir, f), "utf8");
  const server = createServer({ key: pki["tls.key"], cert: pki["tls.pem"] }, (req, res) => {
    const file = { "/SimpleNotificationService-test.pem": "sns.pem", "/rogue.pem": "rogue.pem" }[req.url];
    res.writeHead(file ? 200 : 404).end(file ? pki[file] : "");
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const certHost = `127.0.0.1:${server.address().port}`;
  return {
    pki,
    certHost,
    /** GETs a certificate from the server, trusting the CA. */
    fetchPem: (url) =>
      new Promise((resolve, reject) => {
        get(url, { ca: pki["ca.pem"] }, (res) => {
          let text = "";
          res.on("data", (c) => (text += c));
          res.on("end", () => resolve(text));
        }).on("error", reject);
      }),
    /** An SNS notification carrying `message` (an SES event by default), signed as SNS does. */
    message(version, { key = pki["sns.key"], certPath = "/SimpleNotificationService-test.pem", topic = TOPIC, scheme = "https", host = certHost, message } = {}) {
      const m = {
        Type: "Notification",
        MessageId: randomBytes(8).toString("hex"),
        TopicArn: topic,
        Subject: "Amazon SES Email Event Notification",
        Message: JSON.stringify(message ?? { eventType: "Bounce", bounce: { bounceType: "Permanent" }, mail: { messageId: "0100018f" } }),
        Timestamp: new Date().toISOString(),
        SignatureVersion: String(version),
        SigningCertURL: `${scheme}://${host}${certPath}`,
      };
      const canonical = ["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"].map((k) => `${k}\n${m[k]}\n`).join("");
      m.Signature = createSign(version === 1 ? "RSA-SHA1" : "RSA-SHA256").update(canonical).sign(key, "base64");
      return m;
    },
    close() {
      server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
