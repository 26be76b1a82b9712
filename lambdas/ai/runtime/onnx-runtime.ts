// The model runtime: ONNX models on onnxruntime-web's WebAssembly backend (one package for Node and
// Lambda, no native binaries), loaded from the model store and kept per model version. The package
// itself loads with the first model: only the analysers that run one need it.
import { cachedUntilRejected } from '../../cached-until-rejected.js';
import type { ModelStore } from './model-store.js';

type Ort = typeof import('onnxruntime-web');
const onnxRuntime = cachedUntilRejected(async (): Promise<Ort> => {
  const ort = await import('onnxruntime-web');
  // Lambda gives one or two vCPUs and the worker threads would only compete with the event loop.
  ort.env.wasm.numThreads = 1;
  return ort;
});

export interface LoadedModel {
  sha256: string;
  run(inputs: Record<string, { data: Float32Array | BigInt64Array; dims: number[] }>): Promise<Record<string, Float32Array>>;
}

export class ModelRuntime {
  private readonly sessions = new Map<string, Promise<LoadedModel>>();

  constructor(private readonly store: ModelStore) {}

  model(name: string, version: string): Promise<LoadedModel> {
    const key = `${name}@${version}`;
    let loading = this.sessions.get(key);
    if (!loading) {
      loading = this.load(name, version);
      loading.catch(() => this.sessions.delete(key)); // a failed load is tried again next time
      this.sessions.set(key, loading);
    }
    return loading;
  }

  private async load(name: string, version: string): Promise<LoadedModel> {
    const [{ record, bytes }, ort] = await Promise.all([this.store.load(name, version), onnxRuntime()]);
    const session = await ort.InferenceSession.create(bytes);
    return {
      sha256: record.sha256,
      async run(inputs) {
        const feeds = Object.fromEntries(
          Object.entries(inputs).map(([k, v]) => [k, v.data instanceof BigInt64Array ? new ort.Tensor('int64', v.data, v.dims) : new ort.Tensor('float32', v.data, v.dims)]),
        );
        const out = await session.run(feeds);
        return Object.fromEntries(Object.entries(out).map(([k, t]) => [k, t.data as Float32Array]));
      },
    };
  }
}
