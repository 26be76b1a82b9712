// Which runtime serves a request in the AWS deployment. Lambda takes at most 6 MB in and out of one
// invocation (and API Gateway base64-encodes binary bodies), so requests that may be larger go to the
// streaming runtime: the same DICOMweb application on a long-running Node server (ECS Fargate), which
// streams bodies of any size in both directions. Everything else stays on Lambda. The CDK app deploys
// this decision as the CloudFront function in front of both origins (lib/constructs/front-door.ts), so
// it must stay plain code that CloudFront's JavaScript runtime runs; tests route with it too.

/** Largest request body sent to Lambda: 4 MiB becomes 5.3 MiB in base64, leaving room for the event. */
export const LAMBDA_MAX_BODY_BYTES = 4 * 1024 * 1024;

export type Runtime = 'lambda' | 'streaming';

export function runtimeFor(method: string, path: string, contentLength: string | undefined): Runtime {
  // De-identified exports run as jobs in the long-running tasks, which also answer for their state; the
  // DIMSE forwarding API is served by the tasks that forward.
  if (/^\/(exports|dimse)(\/|$)/.test(path)) return 'streaming';
  if (method === 'POST' || method === 'PUT') {
    // A body of unknown length (chunked) may be of any size.
    const length = contentLength === undefined ? NaN : Number(contentLength);
    return Number.isFinite(length) && length <= LAMBDA_MAX_BODY_BYTES ? 'lambda' : 'streaming';
  }
  if (method === 'GET' || method === 'HEAD') {
    // Rendering decodes compressed frames with WebAssembly codecs that only the streaming runtime carries.
    if (/\/(rendered|thumbnail)\/?$/.test(path)) return 'streaming';
    // Retrieval of whole studies, series and instances, of frames and of bulk data can be any size; so
    // can metadata: a few KB per instance for a study or series, and for one RT structure set or
    // segmentation several MB as JSON, more as XML (decompressed instances grow too).
    if (/\/studies\/[^/]+(\/series\/[^/]+(\/instances\/[^/]+)?)?\/?$/.test(path)) return 'streaming';
    if (/\/metadata\/?$/.test(path)) return 'streaming';
    if (/\/instances\/[^/]+\/(frames\/[^/]+|bulkdata(\/.*)?)\/?$/.test(path)) return 'streaming';
  }
  return 'lambda';
}
