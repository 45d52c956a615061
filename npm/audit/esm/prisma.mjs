import m from "../dist/prisma/index.js";

export const { prismaAuditAdapter, withAuditExtension } = m;
