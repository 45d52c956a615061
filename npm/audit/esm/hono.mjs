import m from "../dist/hono/index.js";

export const { createHonoMiddleware, betterAuditHono } = m;
