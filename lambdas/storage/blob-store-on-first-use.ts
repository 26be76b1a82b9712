// A BlobStore whose implementation is loaded when it is first used. The Lambda API function answers
// searches (most of the cold requests a viewer makes) from the index alone; loading the S3 client only
// when a request needs objects keeps its schemas out of every cold start that does not.
import { cachedUntilRejected } from '../cached-until-rejected.js';
import type { ByteRange } from '../dicom/frames.js';
import type { BlobStore, ListedBlob } from './ports.js';

export function blobStoreOnFirstUse(load: () => Promise<BlobStore>): BlobStore {
  // A failed load (which only a broken bundle causes) is not cached: the next request tries again.
  let loaded: BlobStore | undefined;
  const store = cachedUntilRejected(async () => (loaded = await load()));
  return {
    put: async (key: string, data: Uint8Array) => (await store()).put(key, data),
    putFile: async (key: string, path: string) => (await store()).putFile(key, path),
    get: async (key: string) => (await store()).get(key),
    stream: async function* (key: string): AsyncIterable<Uint8Array> {
      yield* (await store()).stream(key);
    },
    getRanges: async (key: string, ranges: ByteRange[]) => (await store()).getRanges(key, ranges),
    delete: async (keys: string[]) => (await store()).delete(keys),
    list: async function* (prefix: string): AsyncIterable<ListedBlob> {
      yield* (await store()).list(prefix);
    },
    close: async () => {
      await loaded?.close();
    },
  };
}
