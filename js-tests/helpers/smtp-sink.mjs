// An SMTP sink on loopback for the email suites (the `smtp-server` package): it records every
// connection and message (envelope and raw bytes) and lets a test choose its answers.
import { SMTPServer } from "smtp-server";

/** A negative answer for a sink hook: `cb(smtpReply(550, "5.1.1 no such user"))`. */
export const smtpReply = (code, message) => Object.assign(new Error(message), { responseCode: code });

/**
 * An SMTP sink on 127.0.0.1 recording connections and messages (envelope and raw bytes).
 * `rcpt(address, cb)`, `mail(address, cb)` and `data(raw, session, cb)` override the answers.
 */
export async function smtpSink({ rcpt, mail, data, ...options } = {}) {
  const state = { connections: 0, messages: [], auth: [], errors: [] };
  const server = new SMTPServer({
    logger: false,
    disabledCommands: options.onAuth ? [] : ["AUTH"],
    authOptional: !options.onAuth,
    closeTimeout: 50,
    ...options,
    onConnect(session, cb) {
      state.connections++;
      cb();
    },
    onMailFrom(address, session, cb) {
      if (mail) mail(address.address, cb);
      else cb();
    },
    onRcptTo(address, session, cb) {
      if (rcpt) rcpt(address.address, cb);
      else cb();
    },
    onData(stream, session, cb) {
      const chunks = [];
      stream.on("data", (c) => chunks.push(c));
      stream.on("end", () => {
        const raw = Buffer.concat(chunks);
        state.messages.push({
          from: session.envelope.mailFrom.address,
          to: session.envelope.rcptTo.map((r) => r.address),
          raw,
          secure: session.secure,
          user: session.user,
        });
        if (data) data(raw, session, cb);
        else cb(null, "Ok: queued");
      });
    },
  });
  // A client that refuses the certificate ends the handshake with an alert: an error here.
  server.on("error", (e) => state.errors.push(e));
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const s = {
    server,
    state,
    port: server.server.address().port,
    /** Drops every connection from the server's side. */
    dropAll() {
      for (const c of server.connections) c._socket.destroy();
    },
    close: () => new Promise((resolve) => server.close(resolve)),
  };
  return s;
}
