// VRs of well-known private data elements (generated into private-dictionary-data.ts), for elements
// whose file leaves the VR open (implicit VR, or UN). An element whose creator or tag is not listed
// stays UN (PS3.5 6.2.2).
import { unpackJson } from './packed-json.js';
import { PRIVATE_DICTIONARY_PACKED } from './private-dictionary-data.js';

let byCreator: Map<string, Map<string, string>> | undefined;

/** Parsed on first use: most instances need no private VR (explicit VR files name theirs). */
function dictionary(): Map<string, Map<string, string>> {
  if (!byCreator) {
    byCreator = new Map();
    for (const [creator, entries] of Object.entries(unpackJson<Record<string, string>>(PRIVATE_DICTIONARY_PACKED))) {
      const tags = new Map<string, string>();
      for (const entry of entries.split(' ')) tags.set(entry.slice(0, 8), entry.slice(8));
      byCreator.set(creator, tags);
    }
  }
  return byCreator;
}

const hex = (n: number, digits: number) => n.toString(16).toUpperCase().padStart(digits, '0');

/**
 * The VR the creator's dictionary gives a private data element (gggg,xxee), or undefined. Creators are
 * compared without their padding, as dcmtk and pydicom do.
 */
export function privateElementVr(creator: string, tag: number): string | undefined {
  const tags = dictionary().get(creator.trim());
  if (!tags) return undefined;
  const group = tag >>> 16;
  const element = tag & 0xffff;
  return (
    tags.get(`${hex(group, 4)}xx${hex(element & 0xff, 2)}`) ??
    tags.get(`${hex(group, 4)}${hex(element, 4)}`) ??
    tags.get(`${hex(group >>> 8, 2)}xxxx${hex(element & 0xff, 2)}`)
  );
}

/** The Private Creator element (gggg,00xx) that reserves a private data element's block (PS3.5 7.8.1). */
export function privateCreatorTag(tag: number): number | undefined {
  const block = (tag & 0xffff) >>> 8;
  if (block < 0x10) return undefined; // (gggg,0000-0FFF) are creators or invalid, never block members
  return ((tag & 0xffff0000) | block) >>> 0;
}

/** (gggg,0010-00FF) of an odd group: its value names the creator and is LO however it was encoded. */
export function isPrivateCreator(tag: number): boolean {
  const element = tag & 0xffff;
  return ((tag >>> 16) & 1) === 1 && element >= 0x0010 && element <= 0x00ff;
}
