import m from "../dist/fastify/index.js";

export const { webhookReceiver, webhooksInbox, portalHandlers } = m;
