// The analysers the archive ships, in the order their result series are numbered.
import type { AiConfig } from '../config.js';
import type { ModelRuntime } from '../runtime/onnx-runtime.js';
import type { Analyser } from './analyser.js';
import { createImageNoise } from './image-noise.js';
import { createMissingPriors } from './missing-priors.js';
import { createProtocolCheck } from './protocol-check.js';
import { createThresholdSegmentation } from './threshold-segmentation.js';
import { createTriage } from './triage.js';

/** Their ids, for code that must not load the analysers themselves (the CDK app makes a queue for each). */
export { BUILT_IN_ANALYSER_IDS } from './built-in-ids.js';

export function builtInAnalysers(config: AiConfig, runtime: ModelRuntime): Analyser[] {
  return [
    createMissingPriors(config.tiers),
    createProtocolCheck(),
    createThresholdSegmentation(config.segmentation),
    createImageNoise(runtime, { limitHU: config.noiseLimitHU, edgeFraction: 0.2 }),
    createTriage(),
  ];
}
