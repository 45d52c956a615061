// A connection tripwire for suites that must prove no request leaves the machine: every TCP
// connect in this process (net.connect, net.createConnection, tls.connect, undici's connector,
// node:http, pg) goes through `net.Socket.prototype.connect`, which the tripwire wraps. It
// records each address about to be dialled and refuses (the socket fails with
// `TRIPWIRE_REFUSED`) any outside 127.0.0.0/8 and ::1. Names are checked on the addresses their
// lookup returns (the caller's own `lookup` included), so a dial is recorded only when an
// address was actually handed to the socket.
import net from "node:net";
import dns from "node:dns";

/** Loopback: 127.0.0.0/8, ::1 and their IPv4-mapped forms. */
export function isLoopback(address) {
  const a = address.toLowerCase().replace(/^::ffff:/, "");
  return (net.isIPv4(a) && a.startsWith("127.")) || a === "::1";
}

function refusal(address) {
  return Object.assign(new Error(`tripwire: connection to ${address} refused (outside loopback)`), { code: "TRIPWIRE_REFUSED" });
}

/**
 * Installs the tripwire; returns `{ dials, violations, uninstall }`. `dials` lists
 * `{ host, address, port }` for every address handed to a socket; `violations` those outside
 * loopback (refused).
 */
export function installTripwire() {
  const original = net.Socket.prototype.connect;
  const dials = [];
  const violations = [];
  const dial = (host, address, port) => {
    const d = { host, address, port: Number(port) };
    dials.push(d);
    if (!isLoopback(address)) violations.push(d);
    return isLoopback(address);
  };
  net.Socket.prototype.connect = function connect(...args) {
    // `net.connect` passes its arguments normalised (an array marked by Node); other callers
    // pass `(options, cb)` or `(port, host, cb)`.
    const normalized = Array.isArray(args[0]) ? args[0] : net._normalizeArgs(args);
    const options = normalized[0];
    // As net decides: a truthy `path` is a local (IPC) socket.
    if (options.path) return original.call(this, normalized);
    const host = options.host ?? "localhost";
    const port = options.port;
    if (net.isIP(host)) {
      if (!dial(host, host, port)) {
        process.nextTick(() => this.destroy(refusal(host)));
        return this;
      }
      return original.call(this, normalized);
    }
    const lookup = options.lookup ?? dns.lookup;
    normalized[0] = {
      ...options,
      lookup(name, opts, cb) {
        lookup(name, opts, (err, address, family) => {
          if (err) return cb(err);
          const list = Array.isArray(address) ? address : [{ address, family }];
          const ok = list.map((a) => dial(name, a.address, port)).every(Boolean);
          if (!ok) return cb(refusal(list.map((a) => a.address).join(", ")));
          return cb(null, address, family);
        });
      },
    };
    return original.call(this, normalized);
  };
  return {
    dials,
    violations,
    uninstall() {
      net.Socket.prototype.connect = original;
    },
  };
}
