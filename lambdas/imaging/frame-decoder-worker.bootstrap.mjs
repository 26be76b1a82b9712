// The frame-decoding worker when the archive runs from its TypeScript sources (npm start, the tests):
// TypeScript is loaded through tsx here, as the main thread's `--import tsx` does not reach workers.
// Bundled runtimes start the bundled worker instead (frame-decoder-pool.ts).
import { register } from 'tsx/esm/api';

register();
const worker = await import('./frame-decoder-worker.ts');
export default worker.default;
