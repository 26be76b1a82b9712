// The CloudFront function that picks the runtime, run as CloudFront would: its compiled code, with the
// `cloudfront` module's origin selection recorded. It must agree with route.ts and fit CloudFront's limits.
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { FAILOVER_STATUS_CODES, ORIGIN_IDS, routingFunctionCode } from '../../lib/constructs/front-door.js';

interface ViewerRequest {
  method: string;
  uri: string;
  headers: Record<string, { value: string }>;
}

interface OriginGroup {
  originIds: Array<{ originId: string }>;
  failoverCriteria: { statusCodes: number[] };
}

function runFunction(request: ViewerRequest, failoverReads = false): { selected: string[]; groups: OriginGroup[]; returned: unknown } {
  const code = routingFunctionCode(failoverReads ? { failoverReadsUnder: '/dicomweb' } : {});
  // CloudFront provides the module; here recorders stand in for the two methods the function uses.
  expect(code.startsWith("import cf from 'cloudfront';\n")).toBe(true);
  const selected: string[] = [];
  const groups: OriginGroup[] = [];
  const cf = { selectRequestOriginById: (id: string) => selected.push(id), createRequestOriginGroup: (g: OriginGroup) => groups.push(JSON.parse(JSON.stringify(g)) as OriginGroup) };
  const returned = runInNewContext(`${code.replace("import cf from 'cloudfront';\n", '')}\nhandler(event);`, { cf, event: { request } });
  return { selected, groups, returned };
}

describe('the routing CloudFront function', () => {
  it('is small enough for CloudFront Functions (10 KB) and uses no modules but cloudfront', () => {
    const code = routingFunctionCode();
    expect(Buffer.byteLength(code)).toBeLessThan(10 * 1024);
    expect(code).not.toMatch(/\brequire\(|^export\b/m);
  });

  it('sends large or unsized bodies, whole-object retrieval and exports to the streaming origin, the rest to Lambda', () => {
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
      // De-identified exports run in the streaming runtime's tasks.
      ['POST', '/exports', String(200), [ORIGIN_IDS.streaming]],
      ['GET', '/exports/20261208T0101-abcd/manifest', undefined, [ORIGIN_IDS.streaming]],
      ['GET', '/audit/events', undefined, []],
      ['GET', '/dimse/forwarding/dead-letters', undefined, [ORIGIN_IDS.streaming]],
    ];
    for (const [method, uri, length, expected] of cases) {
      const request: ViewerRequest = { method, uri, headers: { host: { value: 'pacs.example.org' }, ...(length ? { 'content-length': { value: length } } : {}) } };
      const { selected, groups, returned } = runFunction(request);
      expect(selected, `${method} ${uri} ${length ?? ''}`).toEqual(expected);
      expect(groups).toEqual([]);
      expect(returned).toBe(request);
      // The origins build RetrieveURLs from it.
      expect(request.headers['x-forwarded-host']).toEqual({ value: 'pacs.example.org' });
    }
  });

  it('with a DR region, lets every DICOMweb read fail over from its own origin to the replica, and never a write', () => {
    const cases: Array<[string, string, string | undefined, string]> = [
      ['GET', '/dicomweb/studies', undefined, ORIGIN_IDS.lambda],
      ['HEAD', '/dicomweb/studies/1.2.3/series', undefined, ORIGIN_IDS.lambda],
      ['GET', '/dicomweb/studies/1.2.3', undefined, ORIGIN_IDS.streaming],
      ['GET', '/dicomweb/studies/1.2.3/series/4/instances/5/frames/1', undefined, ORIGIN_IDS.streaming],
    ];
    for (const [method, uri, length, primary] of cases) {
      const request: ViewerRequest = { method, uri, headers: { host: { value: 'pacs.example.org' }, ...(length ? { 'content-length': { value: length } } : {}) } };
      const { selected, groups } = runFunction(request, true);
      expect(selected, `${method} ${uri}`).toEqual([]);
      expect(groups, `${method} ${uri}`).toEqual([{ originIds: [{ originId: primary }, { originId: ORIGIN_IDS.replica }], failoverCriteria: { statusCodes: FAILOVER_STATUS_CODES } }]);
      expect(request.uri).toBe(uri);
    }
    // The AI API has no replica.
    expect(runFunction({ method: 'GET', uri: '/ai/worklist', headers: {} }, true).groups).toEqual([]);
    // Writes keep their origin: CloudFront fails over only GET, HEAD and OPTIONS, and the replica is read-only.
    for (const [method, length, expected] of [['POST', String(1024), []], ['POST', undefined, [ORIGIN_IDS.streaming]], ['DELETE', undefined, []]] as const) {
      const { selected, groups } = runFunction({ method, uri: '/dicomweb/studies/1.2.3', headers: length ? { 'content-length': { value: length } } : {} }, true);
      expect(selected).toEqual(expected);
      expect(groups).toEqual([]);
    }
    // /replica/… is the read API itself (its behaviour's origin), at the archive's own paths.
    const probe: ViewerRequest = { method: 'GET', uri: '/replica/dicomweb/studies', headers: {} };
    const { selected, groups } = runFunction(probe, true);
    expect([selected, groups]).toEqual([[], []]);
    expect(probe.uri).toBe('/dicomweb/studies');
    expect(Buffer.byteLength(routingFunctionCode({ failoverReadsUnder: '/dicomweb' }))).toBeLessThan(10 * 1024);
  });
});
