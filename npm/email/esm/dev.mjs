import m from "../dist/dev/index.js";

export const { consoleTransport, fileTransport } = m;
