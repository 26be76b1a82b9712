// The ids of the shipped analysers, in series-number order, without loading them (a test keeps this
// list equal to builtInAnalysers()).
export const BUILT_IN_ANALYSER_IDS = ['missing-priors', 'protocol-check', 'threshold-segmentation', 'image-noise', 'triage'] as const;
export type BuiltInAnalyserId = (typeof BUILT_IN_ANALYSER_IDS)[number];

/** The analysers that decode pixels (StudyInput.frame): only their workers carry the image codecs. */
export const PIXEL_ANALYSER_IDS: ReadonlySet<BuiltInAnalyserId> = new Set(['threshold-segmentation', 'image-noise']);

/** The analysers that run an ONNX model: only their workers carry the model runtime's WebAssembly (14 MB). */
export const MODEL_ANALYSER_IDS: ReadonlySet<BuiltInAnalyserId> = new Set(['image-noise']);
