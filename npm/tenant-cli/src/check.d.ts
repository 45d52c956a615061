import type { BetterConfig, BetterTenantStaticConfig } from "@usebetterdev/plugin/config";
export interface CheckResult {
  check: string;
  passed: boolean;
  message?: string;
  remediation?: string;
}
export interface CheckReport {
  passed: boolean;
  results: CheckResult[];
  warnings: CheckResult[];
  /** What `migrate` would change on this database. */
  upgrades: string[];
}
export declare function runCheck(databaseUrl: string, config: BetterConfig | BetterTenantStaticConfig): Promise<CheckReport>;
