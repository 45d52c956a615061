import m from "../dist/hono/index.js";

export const { webhookReceiver, webhooksInbox, portalHandlers } = m;
