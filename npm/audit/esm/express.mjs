import m from "../dist/express/index.js";

export const { createExpressMiddleware, betterAuditExpress } = m;
