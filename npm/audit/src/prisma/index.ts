export { prismaAuditAdapter, type PrismaAuditAdapterOptions, type PrismaClientWithRaw } from "./adapter";
export { withAuditExtension, type BulkMode, type PrismaClientLike, type WithAuditExtensionOptions } from "./extension";
