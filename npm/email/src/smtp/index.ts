// `@usebetterdev/email/smtp`: the SMTP transport. The native addon speaks SMTP (Rust `lettre`,
// pooled connections, STARTTLS/TLS through rustls) and judges every reply into the product's
// hand-off outcomes, per recipient too; this module only maps the answer.
import core, { type SmtpOptions, type SmtpSendResult } from "@usebetter-rs/core/email-binding";
import { EmailConfigError } from "../errors";
import { rateOption, type HandOffResult, type PreparedMessage, type Transport } from "../types";

export type { SmtpOptions };

function result(r: SmtpSendResult): HandOffResult {
  const out: HandOffResult = { outcome: r.outcome };
  const code = r.data?.code ?? r.stopped?.code;
  if (code !== null && code !== undefined) out.status = code;
  const text = r.stopped ? `${r.stopped.stage}: ${r.stopped.failure ?? ""} ${r.stopped.text}`.trim() : r.data?.text;
  if (text) out.detail = text;
  // SMTP has no message id of its own: the server's queue id is in the final reply's text.
  if (r.outcome === "sent" && r.data?.text) out.providerMessageId = r.data.text;
  out.recipients = r.recipients.map((x) => {
    const one: NonNullable<HandOffResult["recipients"]>[number] = { address: x.address, accepted: x.accepted };
    if (x.code !== null) one.code = x.code;
    if (x.enhancedCode !== null) one.enhancedCode = x.enhancedCode;
    if (x.text !== null) one.text = x.text;
    return one;
  });
  return out;
}

/** `smtp({ host, port, secure, auth?, pool?, timeoutMs?, dkim?, maxPerSecond? })`: Node with the native addon only. */
export function smtp(options: SmtpOptions & { name?: string; maxPerSecond?: number }): Transport {
  const send = core.emailSmtpSend;
  if (!send) {
    throw new EmailConfigError(
      "EMAIL_TRANSPORT_UNAVAILABLE",
      "smtp(): SMTP needs the native addon (Node on linux-x64; install @usebetter-rs/core-linux-x64-gnu); on edge runtimes use an HTTP transport such as resend()",
    );
  }
  const { name = "smtp", maxPerSecond, ...opts } = options ?? ({} as SmtpOptions);
  const rate = rateOption("smtp()", maxPerSecond);
  return {
    name,
    kind: "smtp",
    ...rate,
    capabilities: { idempotency: false, batch: 1, rawMime: true, tags: false, edge: false },
    // The connection, then each reply: the longest a hand-off can take.
    timeoutMs: (opts.connectTimeoutMs ?? 10_000) + (opts.timeoutMs ?? 15_000),
    async send(batch: PreparedMessage[]): Promise<HandOffResult[]> {
      return Promise.all(batch.map(async (m) => result(await send(opts, { from: m.from, to: m.recipients }, m.raw))));
    },
  };
}
