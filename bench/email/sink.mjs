// The loopback SMTP sink (`smtp-server`, as the js-tests use it), in its own process so its CPU
// is counted apart: accepts every message, counts messages and bytes, and notes the wall time
// (Date.now(), the same clock as the workers') at which the round's last message arrived.
// Forked by run.mjs: reports its port; { round: n } starts a round expecting n messages;
// "stats" answers { count, bytes, doneAt, cpu }; "stop" exits.
import { SMTPServer } from "smtp-server";

let round = { expected: Infinity, count: 0, bytes: 0, doneAt: null };
const server = new SMTPServer({
  logger: false,
  // Plain SMTP on loopback for both sides: no STARTTLS offered (nodemailer would upgrade
  // opportunistically, our client with `secure: "none"` would not), no AUTH.
  disabledCommands: ["AUTH", "STARTTLS"],
  authOptional: true,
  closeTimeout: 50,
  onData(stream, session, cb) {
    let bytes = 0;
    stream.on("data", (c) => (bytes += c.length));
    stream.on("end", () => {
      round.count++;
      round.bytes += bytes;
      if (round.count === round.expected) round.doneAt = Date.now();
      cb(null, `Ok: queued as ${round.count}`);
    });
  },
});
server.on("error", (err) => console.error("sink:", err.message));
server.listen(0, "127.0.0.1", () => process.send({ port: server.server.address().port }));
process.on("message", (m) => {
  if (m?.round !== undefined) round = { expected: m.round, count: 0, bytes: 0, doneAt: null };
  else if (m === "stats") process.send({ count: round.count, bytes: round.bytes, doneAt: round.doneAt, cpu: process.cpuUsage() });
  else if (m === "stop") server.close(() => process.exit(0));
});
// Orphaned (run.mjs gone): exit rather than linger.
process.on("disconnect", () => process.exit(1));
