// DIMSE settings from the environment: what is accepted, and the message a mistake gets at start.
import { describe, expect, it } from 'vitest';
import { startDimseListener } from '../../lambdas/dimse/dimse-listener.js';
import { dimseSettingsFromEnv, parseForwardRules, parsePeers } from '../../lambdas/dimse/settings.js';
import { createLocalStorage } from '../../lambdas/storage/local/create.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testConfig } from '../helpers/archive.js';
import { dimseSettings } from '../helpers/dcmtk.js';

describe('DIMSE settings', () => {
  it('has working defaults: port 11112, AE title CLOUDPACS, no peers, no forwarding', () => {
    const s = dimseSettingsFromEnv({});
    expect(s).toMatchObject({ port: 11112, aeTitle: 'CLOUDPACS', peers: [], forwardRules: [], acceptUnknownCallers: true, libraryLogLevel: 'silent' });
    expect(dimseSettingsFromEnv({ DIMSE_PORT: '0' }).port).toBe(0);
    expect(dimseSettingsFromEnv({}, { acceptUnknownCallers: false, host: '0.0.0.0' })).toMatchObject({ acceptUnknownCallers: false, host: '0.0.0.0' });
  });

  it('reads peers with their rights, everything when none are given', () => {
    const [ct, pacs] = parsePeers('CT1@10.0.0.7:104:store, PACS@pacs.example.org:11112');
    expect(ct).toMatchObject({ aeTitle: 'CT1', host: '10.0.0.7', port: 104, destination: false });
    expect([...ct.may]).toEqual(['store']);
    expect([...pacs.may].sort()).toEqual(['find', 'get', 'move', 'store']);
    expect(pacs.destination).toBe(true);
    expect(pacs.tls).toBe(false);
    // "tls" says how the archive reaches the peer: alone it keeps every right; with rights, only those.
    const [secure, archive] = parsePeers('PACS@pacs.example.org:2762:tls, VNA@10.0.0.9:2762:dest+tls');
    expect([secure.tls, [...secure.may].sort(), secure.destination]).toEqual([true, ['find', 'get', 'move', 'store'], true]);
    expect([archive.tls, [...archive.may], archive.destination]).toEqual([true, [], true]);
  });

  it('refuses what would misbehave later, saying what is wrong', () => {
    expect(() => parsePeers('CT1@10.0.0.7')).toThrow(/AE@host:port/);
    expect(() => parsePeers('THIS-TITLE-IS-TOO-LONG@h:1')).toThrow(/not an AE title/);
    expect(() => parsePeers('CT1@h:104:store+print')).toThrow(/print is not one of/);
    expect(() => parsePeers('CT1@h:1,CT1@h:2')).toThrow(/twice/);
    expect(() => dimseSettingsFromEnv({ DIMSE_PORT: '70000' })).toThrow(/DIMSE_PORT/);
    expect(() => dimseSettingsFromEnv({ DIMSE_TLS_CERT: 'a.pem' })).toThrow(/go together|given together/);
    expect(() => dimseSettingsFromEnv({ DIMSE_LOG_LEVEL: 'loud' })).toThrow(/DIMSE_LOG_LEVEL/);
    expect(() => dimseSettingsFromEnv({ DIMSE_AE_TITLE: 'BACK\\SLASH' })).toThrow(/DIMSE_AE_TITLE/);
    // A peer reached over TLS needs the archive's certificate and what to verify the peer's against.
    expect(() => dimseSettingsFromEnv({ DIMSE_PEERS: 'PACS@h:2762:dest+tls', DIMSE_TLS_CERT: 'a.pem', DIMSE_TLS_KEY: 'a.key' })).toThrow(/reaches PACS over TLS, which needs .*DIMSE_TLS_CA/);
  });

  it('reads forwarding rules naming known peers', () => {
    const peers = parsePeers('PACS@10.0.0.5:104');
    const [ai, ct] = parseForwardRules('PACS=ai; PACS=modality:ct|mr&calling:CT1', peers);
    expect(ai).toMatchObject({ aiResults: true, all: false });
    expect([...ct.modalities!]).toEqual(['CT', 'MR']);
    expect([...ct.callingAeTitles!]).toEqual(['CT1']);
    expect(() => parseForwardRules('ELSEWHERE=all', peers)).toThrow(/not among DIMSE_PEERS/);
    expect(() => parseForwardRules('PACS=colour:red', peers)).toThrow(/not all, ai/);
    expect(() => parseForwardRules('PACS=modality:', peers)).toThrow(/needs values/);
  });

  it('says which setting to change when its port is taken', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dimse-port-'));
    const storage = createLocalStorage(dir);
    const settings = await dimseSettings();
    const context = { storage, config: testConfig(), settings, log: () => undefined };
    const first = await startDimseListener(context);
    try {
      await expect(startDimseListener(context)).rejects.toThrow(/in use by another program: set DIMSE_PORT/);
    } finally {
      await first.close();
      await storage.index.close();
      await storage.workitems.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
