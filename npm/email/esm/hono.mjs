import m from "../dist/hono/index.js";

export const { unsubscribeHandler, emailEventsHandler } = m;
