import m from "../dist/prisma/index.js";

export const { prismaWebhooksAdapter } = m;
