// The seed corpus of the fuzzer: the shared sample files, with the byte positions of their elements
// (read once with the archive's own parser), so that mutations can aim at length fields, geometry,
// UIDs and fragments instead of only flipping bits at random.
import { parseDicom, type DicomDataSet } from '../../lambdas/dicom/parser.js';
import { Tag } from '../../lambdas/dicom/tags.js';
import { sampleBytes, samples } from '../helpers/samples.js';

export interface ElementSite {
  tag: number;
  vr: string;
  /** Where the value starts and how long it is. */
  valueOffset: number;
  length: number;
  /** Where the length field is, and its size (2 for short explicit VRs, else 4). */
  lengthOffset: number;
  lengthSize: 2 | 4;
  littleEndian: boolean;
}

export interface SeedFile {
  name: string;
  bytes: Buffer;
  transferSyntaxUID: string;
  /** Top-level elements of the data set and of the meta group, by tag; absent for deflated files. */
  elements: Map<number, ElementSite>;
  /** Every element at any depth (inside sequences too), for length-field mutations. */
  allElements: ElementSite[];
  /** Encapsulated pixel data: the Basic Offset Table then the fragments (value positions). */
  fragments: Array<{ offset: number; length: number }>;
  /** Where the data set starts (after the meta group). */
  datasetOffset: number;
}

const SHORT_LENGTH = new Set(['AE', 'AS', 'AT', 'CS', 'DA', 'DS', 'DT', 'FD', 'FL', 'IS', 'LO', 'LT', 'PN', 'SH', 'SL', 'SS', 'ST', 'TM', 'UI', 'UL', 'US']);

function sites(ds: DicomDataSet, out: ElementSite[], top?: Map<number, ElementSite>): void {
  for (const el of ds.elements.values()) {
    const short = ds.explicitVr && SHORT_LENGTH.has(el.encodedVr);
    const site: ElementSite = {
      tag: el.tag,
      vr: el.encodedVr,
      valueOffset: el.offset,
      length: el.length,
      lengthOffset: el.offset - (short ? 2 : 4),
      lengthSize: short ? 2 : 4,
      littleEndian: ds.littleEndian,
    };
    out.push(site);
    top?.set(el.tag, site);
    for (const item of el.items ?? []) sites(item, out);
  }
}

let cached: SeedFile[] | undefined;

/** Every sample the archive's parser reads (the fuzzer mutates readable files; broken ones are mutations already). */
export function loadCorpus(): SeedFile[] {
  if (cached) return cached;
  cached = [];
  for (const sample of samples) {
    const bytes = sampleBytes(sample.file);
    let parsed;
    try {
      parsed = parseDicom(bytes);
    } catch {
      continue;
    }
    const elements = new Map<number, ElementSite>();
    const allElements: ElementSite[] = [];
    if (parsed.datasetOffset !== undefined) {
      if (parsed.meta) sites(parsed.meta, allElements, elements);
      sites(parsed.dataset, allElements, elements);
    }
    const pixels = parsed.datasetOffset !== undefined ? parsed.dataset.elements.get(Tag.PixelData) : undefined;
    cached.push({
      name: sample.file,
      bytes,
      transferSyntaxUID: parsed.transferSyntaxUID,
      elements,
      allElements,
      fragments: pixels?.fragments ?? [],
      datasetOffset: parsed.datasetOffset ?? 0,
    });
  }
  return cached;
}
