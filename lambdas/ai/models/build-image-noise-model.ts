// Builds image-noise.onnx, the small model the archive ships to prove its ONNX runtime path.
// Provenance: not trained. Its weights are published operators: Immerkaer's noise estimator ("Fast Noise
// Variance Estimation", CVIU 64(2), 1996): convolve with N = [[1,-2,1],[-2,4,-2],[1,-2,1]] and take
// sigma = sqrt(pi/2) * mean(|I * N|) / 6, averaged, as Tai and Yang propose ("Fast estimation of noise
// variance via edge detection", 2008), only over pixels that are not edges: the `exclude` pixels with
// the strongest Sobel gradient are left out.
// Inputs: "image" float32 [1, 1, H, W] (modality values, e.g. HU); "exclude" int64 [1].
// Output: "sigma" float32 scalar. Run `npm run build:models` to regenerate; a test checks that the
// committed file is what this script builds.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import onnxProto from 'onnx-proto';
import { IMAGE_NOISE_MODEL } from './model-info.js';

const { onnx } = onnxProto;

function floatTensor(name: string, dims: number[], values: number[]) {
  return onnx.TensorProto.create({ name, dims, dataType: onnx.TensorProto.DataType.FLOAT, floatData: values });
}

function tensorInfo(name: string, dims: Array<number | string>) {
  return onnx.ValueInfoProto.create({
    name,
    type: {
      tensorType: {
        elemType: onnx.TensorProto.DataType.FLOAT,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  });
}

function int64Tensor(name: string, dims: number[], values: number[]) {
  return onnx.TensorProto.create({ name, dims, dataType: onnx.TensorProto.DataType.INT64, int64Data: values });
}

const node = (name: string, opType: string, input: string[], output: string[], attribute: Array<Record<string, unknown>> = []) =>
  onnx.NodeProto.create({ name, opType, input, output, attribute: attribute.map((a) => onnx.AttributeProto.create(a)) });
const keepdims0 = { name: 'keepdims', type: onnx.AttributeProto.AttributeType.INT, i: 0 };

export function buildImageNoiseModel(): Uint8Array {
  const graph = onnx.GraphProto.create({
    name: 'immerkaer_noise_without_edges',
    initializer: [
      floatTensor('laplacian_difference', [1, 1, 3, 3], [1, -2, 1, -2, 4, -2, 1, -2, 1]),
      floatTensor('sobel_x', [1, 1, 3, 3], [-1, 0, 1, -2, 0, 2, -1, 0, 1]),
      floatTensor('sobel_y', [1, 1, 3, 3], [-1, -2, -1, 0, 0, 0, 1, 2, 1]),
      floatTensor('scale', [], [Math.sqrt(Math.PI / 2) / 6]),
      int64Tensor('flat', [1], [-1]),
    ],
    node: [
      node('noise_filter', 'Conv', ['image', 'laplacian_difference'], ['filtered']),
      node('noise_magnitude', 'Abs', ['filtered'], ['magnitude']),
      node('gradient_x', 'Conv', ['image', 'sobel_x'], ['gx']),
      node('gradient_y', 'Conv', ['image', 'sobel_y'], ['gy']),
      node('abs_x', 'Abs', ['gx'], ['agx']),
      node('abs_y', 'Abs', ['gy'], ['agy']),
      node('gradient', 'Add', ['agx', 'agy'], ['g']),
      node('gradient_flat', 'Reshape', ['g', 'flat'], ['g_flat']),
      node('strongest_edges', 'TopK', ['g_flat', 'exclude'], ['edge_values', 'edge_indices']),
      node('edge_threshold', 'ReduceMin', ['edge_values'], ['threshold'], [keepdims0]),
      node('is_flat', 'Less', ['g', 'threshold'], ['flat_bool']),
      node('flat_mask', 'Cast', ['flat_bool'], ['mask'], [{ name: 'to', type: onnx.AttributeProto.AttributeType.INT, i: onnx.TensorProto.DataType.FLOAT }]),
      node('masked', 'Mul', ['magnitude', 'mask'], ['masked_magnitude']),
      node('sum_magnitude', 'ReduceSum', ['masked_magnitude'], ['total'], [keepdims0]),
      node('count', 'ReduceSum', ['mask'], ['n'], [keepdims0]),
      node('mean', 'Div', ['total', 'n'], ['mean_magnitude']),
      node('to_sigma', 'Mul', ['mean_magnitude', 'scale'], ['sigma']),
    ],
    input: [tensorInfo('image', [1, 1, 'height', 'width']), int64Info('exclude', [1])],
    output: [tensorInfo('sigma', [])],
  });
  const model = onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 13 }],
    producerName: 'serverless-pacs',
    producerVersion: IMAGE_NOISE_MODEL.version,
    docString: 'Immerkaer (1996) noise estimate over non-edge pixels (Tai and Yang 2008); weights are the published operators, not trained.',
    graph,
  });
  return onnx.ModelProto.encode(model).finish();
}

function int64Info(name: string, dims: number[]) {
  return onnx.ValueInfoProto.create({
    name,
    type: { tensorType: { elemType: onnx.TensorProto.DataType.INT64, shape: { dim: dims.map((d) => ({ dimValue: d })) } } },
  });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(IMAGE_NOISE_MODEL.file, buildImageNoiseModel());
  console.log(`wrote ${IMAGE_NOISE_MODEL.file}`);
}
