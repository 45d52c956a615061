// A DNS server on 127.0.0.1 (UDP) answering TXT and CNAME questions from a zone given as data:
// `{ "name": { TXT: ["v=spf1 …", ["chunk", "chunk"]], CNAME: "target" } }`. A name not in the
// zone answers NXDOMAIN, a name without the asked type NOERROR with no answer (NODATA), a name
// whose value is "servfail" SERVFAIL, and "silent" no answer at all (the resolver times out).
// `node:dns`'s Resolver pointed at it does real lookups over the loopback.
import dgram from "node:dgram";
import { Resolver } from "node:dns/promises";

const TYPES = { 16: "TXT", 5: "CNAME" };

function encodeName(name) {
  const parts = name.split(".").filter(Boolean).map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l, "ascii")]));
  return Buffer.concat([...parts, Buffer.from([0])]);
}

/** The question's name, type and where the question ends. */
function question(msg) {
  let at = 12;
  const labels = [];
  while (msg[at] !== 0) {
    const n = msg[at];
    labels.push(msg.subarray(at + 1, at + 1 + n).toString("ascii"));
    at += n + 1;
  }
  at += 1;
  return { name: labels.join(".").toLowerCase(), type: msg.readUInt16BE(at), end: at + 4 };
}

function rdata(type, value) {
  if (type === "CNAME") return encodeName(value);
  const chunks = (Array.isArray(value) ? value : [value]).map((c) => Buffer.from(c, "utf8"));
  return Buffer.concat(chunks.flatMap((c) => [Buffer.from([c.length]), c]));
}

function answer(msg, zone) {
  const q = question(msg);
  const entry = zone[q.name];
  if (entry === "silent") return null;
  const type = TYPES[q.type];
  let rcode = 0;
  let records = [];
  if (entry === undefined) rcode = 3;
  else if (entry === "servfail") rcode = 2;
  else if (type && entry[type] !== undefined) records = type === "CNAME" ? [entry.CNAME] : entry.TXT;
  const header = Buffer.alloc(12);
  msg.copy(header, 0, 0, 2);
  header[2] = 0x80 | (msg[2] & 0x01); // QR, RD as asked
  header[3] = 0x80 | rcode; // RA
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(records.length, 6);
  const rrs = records.map((r) => {
    const data = rdata(type, r);
    const fixed = Buffer.alloc(12);
    fixed.writeUInt16BE(0xc00c, 0); // the question's name
    fixed.writeUInt16BE(q.type, 2);
    fixed.writeUInt16BE(1, 4);
    fixed.writeUInt32BE(60, 6);
    fixed.writeUInt16BE(data.length, 10);
    return Buffer.concat([fixed, data]);
  });
  return Buffer.concat([header, msg.subarray(12, q.end), ...rrs]);
}

/** Starts the server; `zone` may be changed between lookups. Resolves to `{ address, resolver(), queries, close() }`. */
export async function dnsServer(zone) {
  const socket = dgram.createSocket("udp4");
  const queries = [];
  socket.on("message", (msg, peer) => {
    try {
      queries.push(`${TYPES[question(msg).type] ?? question(msg).type} ${question(msg).name}`);
      const reply = answer(msg, zone);
      if (reply) socket.send(reply, peer.port, peer.address);
    } catch {
      // A malformed question gets no answer.
    }
  });
  await new Promise((resolve) => socket.bind(0, "127.0.0.1", resolve));
  const address = `127.0.0.1:${socket.address().port}`;
  return {
    address,
    queries,
    /** A node:dns Resolver asking only this server, giving up after `timeout` ms. */
    resolver(timeout = 300) {
      const r = new Resolver({ timeout, tries: 1 });
      r.setServers([address]);
      return r;
    },
    close: () => new Promise((resolve) => socket.close(resolve)),
  };
}
