import m from "../dist/next/index.js";

export const {
  AUDIT_ACTOR_HEADER,
  createAuditMiddleware,
  betterAuditNext,
  withAuditRoute,
  withAudit,
  fromBearerToken,
  fromCookie,
  fromHeader,
  getAuditContext,
  runWithAuditContext,
} = m;
