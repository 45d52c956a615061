// The six fixture domains of the sender tests (spec §11, E17): what each publishes on the
// loopback DNS server, the sender created for it, and what its verification finds.
import { randomBytes } from "node:crypto";
import { betterEmail } from "@usebetterdev/email";
import { captureTransport } from "@usebetterdev/email/testing";

const KEY = "v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQC";
/** The fixture domains: what each publishes (tests change it between lookups). */
export const ZONE = {
  // resend: everything in place, p=reject.
  "send.ready.example": { TXT: ["v=spf1 include:amazonses.com ~all"] },
  "_dmarc.ready.example": { TXT: ["v=DMARC1; p=reject; rua=mailto:dmarc@ready.example"] },
  "resend._domainkey.ready.example": { TXT: [[KEY.slice(0, 30), KEY.slice(30)]] },
  // sendgrid: DKIM by CNAME and DMARC p=none, but SPF without SendGrid's include.
  "nospf.example": { TXT: ["v=spf1 include:_spf.google.com -all", "google-site-verification=abc"] },
  "s1._domainkey.nospf.example": { CNAME: "s1.domainkey.u1.wl.sendgrid.net" },
  "s2._domainkey.nospf.example": { CNAME: "s2.domainkey.u1.wl.sendgrid.net" },
  "_dmarc.nospf.example": { TXT: ["v=DMARC1; p=none"] },
  // mailgun on a subdomain: two SPF records; DMARC from the organisation's record (sp=).
  "mg.twospf.example": { TXT: ["v=spf1 include:mailgun.org ~all", "v=spf1 -all"] },
  "k1._domainkey.mg.twospf.example": { TXT: [KEY] },
  "_dmarc.twospf.example": { TXT: ["v=DMARC1; p=reject; sp=quarantine"] },
  // postmark with its dated selector: no DMARC record anywhere.
  "pm-bounces.nodmarc.example": { TXT: ["v=spf1 a mx include:spf.mtasv.net ~all"] },
  "20240101pm._domainkey.nodmarc.example": { TXT: [KEY] },
  // ses signing with its own domain: published, but not aligned with the From domain.
  "unaligned.example": { TXT: ["v=spf1 include:amazonses.com -all"] },
  "tok1._domainkey.amazonses.com": { CNAME: "tok1.dkim.amazonses.com" },
  "_dmarc.unaligned.example": { TXT: ["v=DMARC1; p=quarantine"] },
  // an SMTP relay whose SPF lookup never answers.
  "flaky.example": "silent",
  "mail._domainkey.flaky.example": { TXT: [KEY] },
  "_dmarc.flaky.example": { TXT: ["v=DMARC1; p=none"] },
};

/** The senders of the six domains, as `create` takes them. */
export const FIXTURES = [
  { domain: "ready.example", transport: "resend" },
  { domain: "nospf.example", transport: "sendgrid" },
  { address: "news@mg.twospf.example", transport: "mailgun", dns: { dkimSelectors: ["k1"] } },
  { domain: "nodmarc.example", transport: "postmark", dns: { dkimSelectors: ["20240101pm"] } },
  { domain: "unaligned.example", transport: "ses", dns: { dkimSelectors: ["tok1"], dkimDomain: "amazonses.com" } },
  { domain: "flaky.example", transport: "relay", dns: { spfInclude: "relay.example", dkimSelectors: ["mail"] } },
];
/** What each fixture's verification finds: ownership, SPF, DKIM, DMARC, alignment. */
export const EXPECTED = {
  "ready.example": ["pass", "pass", "pass", "pass", "pass"],
  "nospf.example": ["pass", "fail", "pass", "pass", "pass"],
  "news@mg.twospf.example": ["pass", "fail", "pass", "pass", "pass"],
  "nodmarc.example": ["pass", "pass", "pass", "fail", "pass"],
  "unaligned.example": ["pass", "pass", "pass", "pass", "fail"],
  "flaky.example": ["pass", "error", "pass", "pass", "pass"],
};

/** Publishes `sender`'s ownership token at `_usebetter.<domain>` (beside other senders' tokens). */
export function publishToken(sender) {
  const name = `_usebetter.${sender.domain}`;
  const entry = (ZONE[name] ??= { TXT: [] });
  entry.TXT.push(`usebetter-verification=${sender.expect.token}`);
}

/** A capture transport standing in for a provider of `kind`. */
const fake = (kind) => ({ ...captureTransport(), name: kind, kind });

/** The transports the fixtures name: one per provider, and an SMTP relay. */
export function fixtureTransports() {
  const transports = {};
  for (const kind of ["resend", "sendgrid", "mailgun", "postmark", "ses"]) transports[kind] = fake(kind);
  transports.relay = { ...fake("smtp"), name: "relay" };
  return transports;
}

/** betterEmail() on `database` with the fixtures' transports and `senders`. */
export function senderEmail(database, senders) {
  return betterEmail({
    database,
    transports: fixtureTransports(),
    route: () => "resend",
    from: "Acme <hello@acme.example>",
    unsubscribe: { baseUrl: "https://app.acme.example/email/u" },
    secretsKey: randomBytes(32).toString("base64"),
    senders,
  });
}
