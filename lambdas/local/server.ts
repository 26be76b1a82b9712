// Local mode: the DICOMweb app (and the AI pipeline's API under /ai with the reading worklist page at
// /worklist/, de-identified exports under /exports, the OHIF Viewer at the root) on a Node HTTP server
// over local storage. Used by `npm start` and tests.
import type { ServerType } from '@hono/node-server';
import { Hono } from 'hono';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { AiConfig } from '../ai/config.js';
import { createDicomWebApp } from '../dicomweb/app.js';
import { AUDIT_ROOT } from '../governance/audit/audit-api.js';
import { describeForwardingRequest, DIMSE_ROOT } from '../governance/audit/audited-action.js';
import { audited } from '../governance/audit/http-audit.js';
import { localCaller } from '../governance/audit/requester.js';
import { StudyPatients } from '../governance/audit/study-patients.js';
import { consoleLog } from '../logging.js';
import type { DimseSettings } from '../dimse/settings.js';
import { serveOnNode } from '../node-server.js';
import type { DicomWebConfig } from '../dicomweb/config.js';
import { sweepOrphans } from '../dicomweb/store/blob-lifecycle.js';
import { clearStaging } from '../dicomweb/store/spool.js';
import { createLocalStorage, type LocalStorage } from '../storage/local/create.js';
import { EXPORTS_ROOT } from '../governance/export/export-api.js';
import { installedOhif } from '../viewer/ohif-package.js';
import { createViewerApp } from '../viewer/viewer-app.js';
import { createWorklistApp } from '../worklist/worklist-app.js';
import { startLocalAi, type LocalAi } from './ai.js';
import { startLocalExports } from './exports.js';

export interface LocalArchive {
  url: string;
  /** Root of the AI pipeline's API, when the pipeline runs. */
  aiUrl?: string;
  /** The OHIF Viewer, when it is served. */
  viewerUrl?: string;
  /** The reading worklist page, when the AI pipeline runs. */
  worklistUrl?: string;
  /** Where modalities send to over DIMSE, when the listener runs. */
  dimse?: { aeTitle: string; host: string; port: number; forwarding?: string };
  storage: LocalStorage;
  ai?: LocalAi;
  close(): Promise<void>;
}

export interface LocalArchiveOptions {
  dataDir: string;
  port: number;
  host: string;
  config: DicomWebConfig;
  ai?: AiConfig;
  /** Serve the OHIF Viewer at the root (it must be installed: lambdas/viewer/install-ohif.ts). */
  viewer?: boolean;
  /** The DIMSE listener's settings; off when absent or its port is 0. */
  dimse?: DimseSettings;
  /** Where de-identified exports are written (a folder per export); DATA_DIR/exports by default. */
  exportDir?: string;
  /** For tests: replace or extend the built-in analysers, or fix the clock. */
  aiOptions?: Parameters<typeof startLocalAi>[3];
}

export async function startLocalArchive(startOptions: LocalArchiveOptions): Promise<LocalArchive> {
  // Instances arriving are staged beside the blobs, so that storing a large one is a link, not a copy.
  const stagingDir = startOptions.config.stagingDir ?? join(startOptions.dataDir, 'staging');
  const options = { ...startOptions, config: { ...startOptions.config, stagingDir } };
  const storage = createLocalStorage(options.dataDir);
  // Stores interrupted by a crash left files that no index entry names: remove them before serving.
  const { removed } = await sweepOrphans(storage);
  if (!startOptions.config.stagingDir) await clearStaging(stagingDir);
  if (removed) console.log(JSON.stringify({ level: 'info', message: 'removed files of interrupted stores', count: removed }));
  const dicomweb = createDicomWebApp(storage, options.config);
  const ai = options.ai?.enabled ? await startLocalAi(storage, options.dataDir, options.ai, options.aiOptions, options.config.auditSourceId) : undefined;
  const aiRoot = ai ? new Hono().route('/ai', ai.app) : undefined;
  const viewer = options.viewer ? viewerApp(options.config) : undefined;
  const worklist = ai ? createWorklistApp({ aiRoot: '/ai', dicomWebRoot: options.config.publicUrl ?? options.config.basePath, ...(viewer ? { viewerUrl: '/viewer' } : {}) }) : undefined;
  // Loaded only when it runs: the DIMSE library and dcmjs's dictionaries cost memory a server without DIMSE never needs.
  const dimse = options.dimse?.port ? await (await import('./dimse.js')).startLocalDimse(storage, options.dataDir, options.config, options.dimse) : undefined;
  const dimseAudit = { log: storage.audit, sourceID: options.config.auditSourceId, requester: localCaller, patients: new StudyPatients(storage.index), errors: consoleLog('dimse'), describe: describeForwardingRequest };
  const dimseRoot = dimse?.app ? new Hono().route(DIMSE_ROOT, audited(dimse.app, dimseAudit)) : undefined;
  const exports = await startLocalExports(storage, options.dataDir, options.exportDir ?? join(options.dataDir, 'exports'), options.config);
  const isDicomWeb = dicomWebPaths(options.config.basePath);
  const fetch = (request: Request, env: unknown) => {
    const path = new URL(request.url).pathname;
    if (aiRoot && path.startsWith('/ai/')) return aiRoot.fetch(request, env);
    if (dimseRoot && path.startsWith('/dimse/')) return dimseRoot.fetch(request, env);
    if (path === EXPORTS_ROOT || path.startsWith(`${EXPORTS_ROOT}/`)) return exports.app.fetch(request, env);
    if (worklist && (path === '/worklist' || path.startsWith('/worklist/'))) return worklist.fetch(request, env);
    if (viewer && !isDicomWeb(path)) return viewer.fetch(request, env);
    return dicomweb.fetch(request, env);
  };
  const server: ServerType = await new Promise((resolve) => {
    const s = serveOnNode(fetch, options.port, options.host, () => resolve(s));
  });
  const { port } = server.address() as AddressInfo;
  const origin = `http://${options.host === '0.0.0.0' ? 'localhost' : options.host}:${port}`;
  return {
    url: `${origin}${options.config.basePath}`,
    ...(ai ? { aiUrl: `${origin}/ai`, ai } : {}),
    ...(viewer ? { viewerUrl: `${origin}/` } : {}),
    ...(worklist ? { worklistUrl: `${origin}/worklist/` } : {}),
    ...(dimse && options.dimse ? { dimse: { aeTitle: options.dimse.aeTitle, host: options.dimse.host, port: dimse.port, ...(options.dimse.forwardRules.length ? { forwarding: [...new Set(options.dimse.forwardRules.map((r) => r.destination.aeTitle))].join(', ') } : {}) } } : {}),
    storage,
    close: async () => {
      await dimse?.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await ai?.close();
      await exports.close();
      await storage.index.close();
      await storage.workitems.close();
      await storage.audit.close();
      await storage.blobs.close();
    },
  };
}

function viewerApp(config: DicomWebConfig): Hono {
  const dist = installedOhif();
  if (!dist) throw new Error('the OHIF Viewer is not installed: run `npm install` (its install step fetches it), or set VIEWER=off');
  return createViewerApp(dist, { dicomWebRoot: config.publicUrl ?? config.basePath });
}

/** What the DICOMweb app answers beside the viewer: its root (or, at "/", its resources), the audit trail's API and /health. */
function dicomWebPaths(basePath: string): (path: string) => boolean {
  const audit = (path: string) => path === AUDIT_ROOT || path.startsWith(`${AUDIT_ROOT}/`);
  if (basePath && basePath !== '/') return (path) => path === '/health' || path === basePath || path.startsWith(`${basePath}/`) || audit(path);
  return (path) => /^\/(studies|series|instances|workitems|health)(\/|$)/.test(path) || audit(path);
}
