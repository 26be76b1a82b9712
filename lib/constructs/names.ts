// The names a deployment gives its resources, derived from one archive name (context value
// `archiveName`, default "serverless-pacs"), so that several archives can share an account and region.
// Tables and the replica bucket have fixed names because a recovery in the DR region must find them.
export interface ArchiveNames {
  archiveName: string;
  /** Prefix of the stacks' ids: "ServerlessPacs", "ServerlessPacsEdge", … for the default name. */
  stackPrefix: string;
  indexTable: string;
  aiStateTable: string;
  /** The audit trail (append-only; a global table when there is a DR region). */
  auditTable: string;
  replicaBucket(account: string, region: string): string;
  replicaKeyAlias: string;
}

export const DEFAULT_ARCHIVE_NAME = 'serverless-pacs';

export function archiveNames(archiveName: string): ArchiveNames {
  if (!/^[a-z][a-z0-9-]{2,24}$/.test(archiveName)) {
    throw new Error(`archiveName must be 3 to 25 lower-case letters, digits and hyphens, starting with a letter (it names buckets and tables), got "${archiveName}"`);
  }
  return {
    archiveName,
    stackPrefix: archiveName.replace(/(^|-)([a-z0-9])/g, (_m, _d: string, c: string) => c.toUpperCase()),
    indexTable: `${archiveName}-index`,
    aiStateTable: `${archiveName}-ai-state`,
    auditTable: `${archiveName}-audit`,
    replicaBucket: (account, region) => `${archiveName}-replica-${account}-${region}`,
    replicaKeyAlias: `alias/${archiveName}-replica`,
  };
}
