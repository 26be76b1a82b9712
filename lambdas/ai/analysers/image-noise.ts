// Estimates the image noise of each CT series with the shipped ONNX model (Immerkær's operator, see
// models/build-image-noise-model.ts) on the middle slice, and flags series noisier than a limit:
// a hint of a wrong dose protocol or a failing detector.
import { Codes, Units } from '../results/codes.js';
import { IMAGE_NOISE_MODEL } from '../models/model-info.js';
import type { ModelRuntime } from '../runtime/onnx-runtime.js';
import { NotAnalysableError, type Analyser, type AnalysisOutcome, type OutcomeGroup, type StudyInput } from './analyser.js';
import { sourceOf, text } from './attributes.js';
import { volumesOf } from './volume.js';

export interface ImageNoiseOptions {
  /** Noise (standard deviation, HU) above which a series is flagged. */
  limitHU: number;
  /** Share of pixels with the strongest gradient treated as edges and left out of the estimate. */
  edgeFraction: number;
}

export function createImageNoise(runtime: ModelRuntime, options: ImageNoiseOptions = { limitHU: 25, edgeFraction: 0.2 }): Analyser {
  return {
    id: 'image-noise',
    name: 'CT image noise estimate',
    version: '1.0.0',
    vendor: 'Serverless PACS',
    intendedUse: `Quality control: estimates the noise (σ, HU) of each CT series and flags series above ${options.limitHU} HU. Not for diagnosis.`,
    stage: 'primary',
    filter: { modalities: ['CT'] },
    model: { name: IMAGE_NOISE_MODEL.name, version: IMAGE_NOISE_MODEL.version },
    async analyse(study: StudyInput): Promise<AnalysisOutcome> {
      const { volumes, problems } = volumesOf(study.instances, 'CT');
      if (!volumes.length) throw new NotAnalysableError(problems[0] ?? 'the study has no CT series');
      const model = await runtime.model(IMAGE_NOISE_MODEL.name, IMAGE_NOISE_MODEL.version);
      const groups: OutcomeGroup[] = [];
      const flagged: string[] = [];
      const outputs: Record<string, number> = {};
      let maxSigma = 0;
      for (const volume of volumes) {
        const middle = volume.slices[Math.floor(volume.slices.length / 2)];
        const frame = await study.frame(middle.instance, 0);
        if (frame.rows < 3 || frame.columns < 3) continue;
        const exclude = BigInt(Math.floor(options.edgeFraction * (frame.rows - 2) * (frame.columns - 2)));
        const { sigma } = await model.run({
          image: { data: frame.values, dims: [1, 1, frame.rows, frame.columns] },
          exclude: { data: BigInt64Array.of(exclude), dims: [1] },
        });
        const value = sigma[0];
        maxSigma = Math.max(maxSigma, value);
        const label = `series ${text(middle.instance.metadata, 'SeriesNumber') ?? volume.seriesInstanceUID}`;
        if (value > options.limitHU) flagged.push(`${label}: σ ≈ ${value.toFixed(1)} HU`);
        groups.push({
          trackingIdentifier: `noise ${label}`,
          finding: Codes.AttenuationCoefficient,
          measurements: [
            {
              name: Codes.AttenuationCoefficient,
              value,
              unit: Units.HounsfieldUnit,
              derivation: Codes.StandardDeviation,
              parameters: `Immerkaer noise estimate without the ${options.edgeFraction * 100}% strongest edges, slice ${middle.sopInstanceUID}; model sha256 ${model.sha256}`,
            },
          ],
        });
      }
      if (!groups.length) throw new NotAnalysableError('no CT slice is large enough to estimate noise');
      outputs.maxSigmaHU = maxSigma;
      return {
        status: 'analysed',
        summary: flagged.length ? `noisy: ${flagged.join('; ')}` : `noise within ${options.limitHU} HU (max σ ≈ ${maxSigma.toFixed(1)} HU)`,
        positive: flagged.length > 0,
        outputs,
        sourceImages: volumes.map((v) => sourceOf(v.slices[Math.floor(v.slices.length / 2)].instance)),
        evaluations: flagged.map((f) => ({ name: Codes.Finding, value: `Image noise above ${options.limitHU} HU — ${f}` })),
        groups,
        modelSha256: model.sha256,
      };
    },
  };
}
