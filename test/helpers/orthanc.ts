// Debian's Orthanc as a DIMSE peer of the archive: it calls the archive (its REST API drives C-ECHO,
// C-STORE with storage commitment, C-FIND and C-MOVE) and receives what the archive sends.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from './dcmtk.js';

export interface OrthancPeer {
  http: string;
  dicomPort: number;
  aeTitle: string;
  /** JSON from Orthanc's REST API (throws on an error status, with Orthanc's answer). */
  call<T = unknown>(method: string, path: string, body?: unknown): Promise<T>;
  stop(): void;
}

/** Orthanc knowing the archive as modality "pacs", listening for DICOM on `dicomPort`. */
export async function startOrthancPeer(dir: string, archive: { aeTitle: string; port: number }, dicomPort: number): Promise<OrthancPeer> {
  if (!existsSync('/usr/sbin/Orthanc')) throw new Error('Orthanc is not installed: apt-get install orthanc (.ci/run does)');
  const httpPort = await freePort();
  const aeTitle = 'ORTHANC';
  const config = {
    Name: 'peer', HttpPort: httpPort, DicomPort: dicomPort, DicomAet: aeTitle, StorageDirectory: join(dir, 'storage'), IndexDirectory: join(dir, 'index'),
    RemoteAccessAllowed: false, AuthenticationEnabled: false, HttpBindAddress: '127.0.0.1', DicomAlwaysAllowStore: true, DicomCheckCalledAet: false,
    DicomModalities: { pacs: [archive.aeTitle, '127.0.0.1', archive.port] }, DicomScuTimeout: 10, StorageCommitmentReportsSize: 100,
  };
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'orthanc.json'), JSON.stringify(config));
  const child = spawn('/usr/sbin/Orthanc', [join(dir, 'orthanc.json')], { stdio: 'ignore' });
  const http = `http://127.0.0.1:${httpPort}`;
  const call = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const res = await fetch(`${http}${path}`, { method, ...(body === undefined ? {} : { body: typeof body === 'string' || body instanceof Uint8Array ? (body as BodyInit) : JSON.stringify(body) }) });
    const text = await res.text();
    if (!res.ok) throw new Error(`Orthanc ${method} ${path}: ${res.status} ${text}`);
    return (text ? JSON.parse(text) : undefined) as T;
  };
  for (let i = 0; ; i++) {
    try {
      await call('GET', '/system');
      break;
    } catch (e) {
      if (i > 100) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return { http, dicomPort, aeTitle, call, stop: () => child.kill() };
}
