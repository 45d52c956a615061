import m from "../dist/express/index.js";

export const { unsubscribeHandler, emailEventsHandler } = m;
