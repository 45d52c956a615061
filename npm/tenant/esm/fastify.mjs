import m from "../dist/fastify/index.js";

export const { fastifyTenant } = m;
