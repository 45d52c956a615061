// The loopback receiver: a plain node:http server answering 204 to every POST, counting them.
// Forked by run.mjs; reports its port, then its count and CPU time on request.
import { createServer } from "node:http";

let count = 0;
const server = createServer((req, res) => {
  req.on("data", () => undefined);
  req.on("end", () => {
    count++;
    res.writeHead(204).end();
  });
});
server.keepAliveTimeout = 30_000;
server.listen(0, "127.0.0.1", () => process.send({ port: server.address().port }));
process.on("message", (m) => {
  if (m === "stats") process.send({ count, cpu: process.cpuUsage() });
  if (m === "stop") server.close(() => process.exit(0));
});
