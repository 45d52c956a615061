import m from "../dist/prisma/index.js";

export const { prismaDatabase } = m;
