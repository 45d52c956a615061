import m from "../dist/express/index.js";

export const { webhookReceiver, webhooksInbox, keepRawBody, portalHandlers } = m;
