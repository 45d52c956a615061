import m from "../dist/next/index.js";

export const { webhookReceiver, webhooksInbox, portalHandlers } = m;
