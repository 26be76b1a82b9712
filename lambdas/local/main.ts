// `npm start`: a working archive on this machine, no cloud account needed.
import './threadpool.js';
import { resolve } from 'node:path';
import { aiConfigFromEnv } from '../ai/config.js';
import { configFromEnv } from '../dicomweb/config.js';
import { dimseSettingsFromEnv } from '../dimse/settings.js';
import { startLocalArchive, type LocalArchive } from './server.js';

const port = Number(process.env.PORT ?? 8080);
const host = process.env.HOST ?? '127.0.0.1';
const dataDir = resolve(process.env.DATA_DIR ?? 'data');

const viewer = process.env.VIEWER?.trim().toLowerCase() !== 'off';

let archive: LocalArchive;
try {
  archive = await startLocalArchive({ dataDir, port, host, config: configFromEnv(), ...(process.env.EXPORT_DIR?.trim() ? { exportDir: resolve(process.env.EXPORT_DIR.trim()) } : {}), ai: aiConfigFromEnv(), viewer, dimse: dimseSettingsFromEnv(process.env, { acceptUnknownCallers: true, host }) });
} catch (e) {
  // A setting that is wrong or a port that is taken: the reason, not a stack trace.
  console.error(`The archive cannot start: ${(e as Error).message}`);
  process.exit(1);
}
console.log(JSON.stringify({ level: 'info', message: 'DICOMweb archive ready', url: archive.url, aiUrl: archive.aiUrl, dimse: archive.dimse, viewerUrl: archive.viewerUrl, worklistUrl: archive.worklistUrl, dataDir }));
console.log(
  `\n  Viewer:        ${archive.viewerUrl ?? 'off (VIEWER=off)'}\n  DICOMweb root: ${archive.url}\n  Worklist:      ${archive.worklistUrl ?? 'off (AI_ENABLED=false)'}\n  DIMSE:         ${archive.dimse ? `AE title ${archive.dimse.aeTitle} at ${archive.dimse.host}:${archive.dimse.port} (C-ECHO, C-STORE, C-FIND, C-GET, C-MOVE, storage commitment)${archive.dimse.forwarding ? `; forwarding to ${archive.dimse.forwarding}` : ''}` : 'off (DIMSE_PORT=0)'}\n  Upload a folder: npm run upload -- <folder>\n`,
);

const shutdown = async () => {
  await archive.close();
  process.exit(0);
};
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);
