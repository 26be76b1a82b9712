// The models the archive ships, with where their files are. The build script next to each file says
// how it was made.
import { fileURLToPath } from 'node:url';

export const IMAGE_NOISE_MODEL = {
  name: 'image-noise',
  version: '1.0.0',
  file: fileURLToPath(new URL('./image-noise.onnx', import.meta.url)),
  provenance:
    'Built by lambdas/ai/models/build-image-noise-model.ts; not trained: the weights are Immerkaer\'s published noise operator (CVIU 64(2), 1996).',
} as const;
