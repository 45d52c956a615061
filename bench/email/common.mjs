// Shared by the email bench processes: the message both sides send, the package's configuration,
// and the CPU time of a process by pid. Database URLs and PostgreSQL's CPU come from the webhooks
// bench (../webhooks/common.mjs).
import { readFileSync } from "node:fs";

export const FROM = "Acme <hello@acme.example>";
export const API_KEY = "re_bench_key";
/** One pg-boss queue per transport, so the two rounds' jobs never mix. */
export const QUEUES = { smtp: "email-smtp", http: "email-http" };

/** The `email` section both the sender and the worker use (the worker adds its transport). */
export const emailSection = (secretsKey) => ({ from: FROM, unsubscribe: { baseUrl: "https://app.acme.example/email/u" }, secretsKey });

const ITEMS = ["Walnut desk organiser", "Linen tea towel (set of 3)", "Stoneware mug, matte", "Beeswax candle", "Cotton tote bag"];

/**
 * Message `i`: a 4 KiB (4,096-byte) HTML order confirmation and its text part, different per
 * message (number, recipient, amounts) so neither side can cache a build.
 */
export function message(i) {
  const to = `customer${i}@example.com`;
  const subject = `Your order #${100000 + i} is confirmed`;
  const rows = [];
  const lines = [];
  for (let k = 0; k < 12; k++) {
    const name = ITEMS[(i + k) % ITEMS.length];
    const cents = 499 + ((i * 7 + k * 131) % 5000);
    rows.push(`<tr><td style="padding:4px 8px;border-bottom:1px solid #eee">${name}</td><td style="padding:4px 8px;text-align:right">$${(cents / 100).toFixed(2)}</td></tr>`);
    lines.push(`- ${name}: $${(cents / 100).toFixed(2)}`);
  }
  const head =
    `<!doctype html><html><head><meta charset="utf-8"><title>${subject}</title></head>` +
    `<body style="font-family:Helvetica,Arial,sans-serif;color:#222;background:#fafafa">` +
    `<h1 style="font-size:20px">Thanks for your order, customer ${i}!</h1>` +
    `<p>We have received order <b>#${100000 + i}</b> and will let you know when it ships.</p>` +
    `<table style="border-collapse:collapse;width:100%">${rows.join("")}</table>`;
  const tail = `<p><a href="https://shop.acme.example/orders/${100000 + i}">View your order</a></p></body></html>`;
  // Filler prose up to exactly 4,096 bytes (all ASCII), the size the spec names.
  const room = 4096 - head.length - tail.length - "<p></p>".length;
  const filler = "Questions about delivery, returns or invoices? Reply to this message and our team will help. ".repeat(60).slice(0, room);
  const html = `${head}<p>${filler}</p>${tail}`;
  if (html.length !== 4096) throw new Error(`message(${i}): html is ${html.length} bytes`);
  const text = `Thanks for your order, customer ${i}!\n\nOrder #${100000 + i}:\n${lines.join("\n")}\n\nView your order: https://shop.acme.example/orders/${100000 + i}\n`;
  return { to, subject, html, text };
}

/** User + system CPU seconds of process `pid` so far (/proc/<pid>/stat, 1/100 s ticks). */
export function processCpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) / 100;
}
