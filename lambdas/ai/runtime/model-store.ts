// The archive's own model store: model files live in the object store under their SHA-256 and are
// registered with name, version and provenance. Analysers load models only from here, never from the
// internet, and a file whose bytes no longer match its hash is refused.
import { createHash } from 'node:crypto';
import type { BlobStore } from '../../storage/ports.js';
import type { AiStateStore, ModelRecord } from '../ports.js';

export class ModelStoreError extends Error {}

export class ModelStore {
  constructor(
    private readonly blobs: BlobStore,
    private readonly state: AiStateStore,
  ) {}

  async register(name: string, version: string, bytes: Uint8Array, provenance: string): Promise<ModelRecord> {
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    const existing = (await this.state.models()).find((m) => m.name === name && m.version === version);
    if (existing && existing.sha256 !== sha256) {
      throw new ModelStoreError(`model ${name} ${version} is already registered with different bytes (${existing.sha256}); give the new file a new version`);
    }
    if (existing) return existing;
    const record: ModelRecord = { name, version, sha256, blobKey: `models/${sha256}.onnx`, size: bytes.length, provenance, registeredAt: new Date().toISOString() };
    await this.blobs.put(record.blobKey, bytes);
    await this.state.putModel(record);
    return record;
  }

  async load(name: string, version: string): Promise<{ record: ModelRecord; bytes: Uint8Array }> {
    const record = (await this.state.models()).find((m) => m.name === name && m.version === version);
    if (!record) throw new ModelStoreError(`model ${name} ${version} is not in the model store`);
    const bytes = await this.blobs.get(record.blobKey);
    if (!bytes) throw new ModelStoreError(`the file of model ${name} ${version} is missing from the object store`);
    const actual = createHash('sha256').update(bytes).digest('hex');
    if (actual !== record.sha256) throw new ModelStoreError(`model ${name} ${version} fails its integrity check (sha256 ${actual}, registered ${record.sha256})`);
    return { record, bytes };
  }
}
