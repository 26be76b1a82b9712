import { describe, expect, it } from 'vitest';
import { lookupKeyword } from '../../lambdas/dicom/dictionary.js';
import { Tag } from '../../lambdas/dicom/tags.js';

describe('Tag', () => {
  // The short list exists so that functions reading a few attributes need not load the dictionary;
  // a keyword or number that drifted from PS3.6 would read the wrong attribute without an error.
  it('gives every keyword the tag the DICOM dictionary gives it', () => {
    const mismatches = Object.entries(Tag).filter(([keyword, tag]) => lookupKeyword(keyword)?.tag !== tag);
    expect(mismatches).toEqual([]);
  });
});
