// ESM entry: re-exports the CommonJS loader so both module systems share one loaded binding.
import core from "./index.cjs";

export const {
  backend,
  loadAttempts,
  TenantResolver,
  resolveTenant,
  verifyJwt,
  generateMigrationSql,
  generateAddTableSql,
  normalizeTenantId,
  tenantSignature,
  bypassSignature,
  auditDiff,
  auditDiffJson,
  auditImageSql,
  auditSealRows,
  auditVerifyRows,
  auditChangedFieldsJson,
  canonicalJson,
  parseDuration,
  encodeCursor,
  decodeCursor,
  compileAuditQuery,
  sqlWrites,
  redactEntries,
  EnrichmentRegistry,
  runTenantCli,
  runAuditCli,
  slugFromName,
  buildNoConfigMessage,
} = core;
export default core;
