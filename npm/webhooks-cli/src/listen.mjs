// `better-webhooks listen`: a receiver for development on 127.0.0.1. Each request is verified
// with the endpoint's key (as a production receiver would, before parsing) and printed; verified
// deliveries get `--status` (204 by default, 500 to watch the sender retry), others 401 with the
// reason. Stops on SIGINT/SIGTERM.
import { createServer } from "node:http";
import { verifyWebhook } from "@usebetterdev/webhooks/receiver";

/** Serves until a signal; resolves to the exit code. */
export async function runListen({ port, secret, publicKey, status, json }, { signals = process, write = (line) => process.stdout.write(line) } = {}) {
  const server = createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", async () => {
      const body = Buffer.concat(chunks);
      try {
        const hook = await verifyWebhook({ body: new Uint8Array(body), headers: req.headers }, secret ? { secret } : { publicKey });
        const payload = body.toString("utf8");
        const at = hook.timestamp.toISOString();
        write(json ? `${JSON.stringify({ verified: true, id: hook.id, timestamp: at, body: payload, status })}\n` : `✓ ${hook.id} sent ${at} → ${status}\n${payload}\n`);
        res.writeHead(status).end();
      } catch (err) {
        write(json ? `${JSON.stringify({ verified: false, code: err.code, message: err.message })}\n` : `✗ ${req.method} ${req.url}: ${err.code ?? "ERROR"}: ${err.message}\n`);
        res.writeHead(401, { "content-type": "application/json" }).end(JSON.stringify({ error: { code: err.code, message: err.message } }));
      }
    });
  });
  try {
    await new Promise((resolve, reject) => server.once("error", reject).listen(port, "127.0.0.1", resolve));
  } catch (err) {
    process.stderr.write(err.code === "EADDRINUSE" ? `port ${port} is in use: pick another with --port\n` : `${err.message}\n`);
    return 1;
  }
  const url = `http://127.0.0.1:${server.address().port}/`;
  write(json ? `${JSON.stringify({ listening: url })}\n` : `listening on ${url} (verified deliveries get ${status}); stop with Ctrl-C\n`);
  await new Promise((resolve) => {
    signals.once("SIGINT", resolve);
    signals.once("SIGTERM", resolve);
  });
  server.closeAllConnections?.();
  await new Promise((resolve) => server.close(resolve));
  return 0;
}
