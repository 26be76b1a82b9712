// The CloudFront function that picks the runtime, run as CloudFront would: its compiled code, with the
// `cloudfront` module's origin selection recorded. It must agree with route.ts and fit CloudFront's limits.
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { ORIGIN_IDS, routingFunctionCode } from '../../lib/constructs/front-door.js';

interface ViewerRequest {
  method: string;
  uri: string;
  headers: Record<string, { value: string }>;
}

function runFunction(request: ViewerRequest): { selected: string[]; returned: unknown } {
  const code = routingFunctionCode();
  // CloudFront provides the module; here a recorder stands in for its one method the function uses.
  expect(code.startsWith("import cf from 'cloudfront';\n")).toBe(true);
  const selected: string[] = [];
  const context = { cf: { selectRequestOriginById: (id: string) => selected.push(id) }, event: { request } } as Record<string, unknown>;
  const returned = runInNewContext(`${code.replace("import cf from 'cloudfront';\n", '')}\nhandler(event);`, context);
  return { selected, returned };
}

describe('the routing CloudFront function', () => {
  it('is small enough for CloudFront Functions (10 KB) and uses no modules but cloudfront', () => {
    const code = routingFunctionCode();
    expect(Buffer.byteLength(code)).toBeLessThan(10 * 1024);
    expect(code).not.toMatch(/\brequire\(|^export\b/m);
  });

  it('sends large or unsized bodies and whole-object retrieval to the streaming origin, the rest to Lambda', () => {
    const cases: Array<[string, string, string | undefined, string[]]> = [
      ['POST', '/dicomweb/studies', String(1024), []],
      ['POST', '/dicomweb/studies', String(5 * 1024 * 1024), [ORIGIN_IDS.streaming]],
      ['POST', '/dicomweb/studies', undefined, [ORIGIN_IDS.streaming]],
      ['GET', '/dicomweb/studies', undefined, []],
      ['GET', '/dicomweb/studies/1.2.3', undefined, [ORIGIN_IDS.streaming]],
      ['GET', '/dicomweb/studies/1.2.3/metadata', undefined, [ORIGIN_IDS.streaming]],
      ['GET', '/dicomweb/studies/1.2.3/series/4/instances/5/frames/1', undefined, [ORIGIN_IDS.streaming]],
      ['GET', '/dicomweb/studies/1.2.3/series/4/instances/5/rendered', undefined, [ORIGIN_IDS.streaming]],
      ['GET', '/dicomweb/studies/1.2.3/series/4/instances/5/metadata', undefined, [ORIGIN_IDS.streaming]],
      ['GET', '/ai/worklist', undefined, []],
      ['DELETE', '/dicomweb/studies/1.2.3', undefined, []],
    ];
    for (const [method, uri, length, expected] of cases) {
      const request: ViewerRequest = { method, uri, headers: { host: { value: 'pacs.example.org' }, ...(length ? { 'content-length': { value: length } } : {}) } };
      const { selected, returned } = runFunction(request);
      expect(selected, `${method} ${uri} ${length ?? ''}`).toEqual(expected);
      expect(returned).toBe(request);
      // The origins build RetrieveURLs from it.
      expect(request.headers['x-forwarded-host']).toEqual({ value: 'pacs.example.org' });
    }
  });
});
