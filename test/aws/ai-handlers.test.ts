// The AI pipeline's Lambda handlers over the AWS emulators, fed exactly what Lambda's event sources
// would hand them: SQS messages received from the real (emulated) queues with their receipt handles and
// receive counts, and an EventBridge schedule event. A stored study goes events → readiness → one worker
// per analyser → results in the archive; a failing analyser is retried through batch item failures and
// dead-lettered with its reason; a poison event is reported back to SQS; metrics go out as EMF.
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { CreateQueueCommand, DeleteMessageCommand, GetQueueAttributesCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import type { ScheduledEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import type { Analyser } from '../../lambdas/ai/analysers/analyser.js';
import { handleArchiveEvents } from '../../lambdas/aws/handlers/ai-events.js';
import { aiApiAudit, createAiApiHandler } from '../../lambdas/aws/handlers/ai-api.js';
import { LOST_JOB_AFTER_MS, handleReadiness } from '../../lambdas/aws/handlers/ai-readiness.js';
import { handleAnalysisJobs } from '../../lambdas/aws/handlers/ai-worker.js';
import { createAwsAi, type AwsAi } from '../../lambdas/aws/ai/runtime.js';
import type { AwsAiSettings } from '../../lambdas/aws/ai/settings.js';
import { observability } from '../../lambdas/aws/observability.js';
import { createApiHandler } from '../../lambdas/aws/handlers/dicomweb-api.js';
import { createAwsStorage, type AwsClients, type AwsStorageSettings } from '../../lambdas/storage/aws/create.js';
import { BOUNDARY, multipartBody, testAiConfig, testConfig } from '../helpers/archive.js';
import { createAiStateTable } from '../helpers/ai-state-table.js';
import { emulatorClients } from '../helpers/aws-emulators.js';
import { allMatches } from '../../lambdas/storage/ports.js';
import { createAuditTable, createIndexTable } from '../helpers/index-table.js';
import { lambdaContext, receive, sqsEvent } from '../helpers/sqs-events.js';
import { syntheticCt } from '../helpers/synthetic-ct.js';

const config = testAiConfig({ maxAttempts: 3, retryBackoffMs: 1000 });
const obs = observability('ai-test');

describe('the AI pipeline\'s Lambda handlers on the AWS emulators', () => {
  let clients: AwsClients;
  let ai: AwsAi;
  let eventsUrl: string;
  let settings: AwsAiSettings;
  let storageSettings: AwsStorageSettings;
  let stowHandler: ReturnType<typeof createApiHandler>;
  let failProtocolCheck = false;
  const emf: string[] = [];

  beforeAll(async () => {
    clients = emulatorClients({ fauxqs: inject('fauxqsEndpoint'), dynamodb: inject('dynamoDbEndpoint') });
    const name = `ai-handlers-${process.pid}`;
    await clients.s3.send(new CreateBucketCommand({ Bucket: name }));
    const queue = async (queueName: string, fifo = false) =>
      (await clients.sqs.send(new CreateQueueCommand({ QueueName: queueName, Attributes: fifo ? { FifoQueue: 'true', VisibilityTimeout: '60' } : { VisibilityTimeout: '60' } }))).QueueUrl!;
    eventsUrl = await queue(`${name}-events`);
    storageSettings = { bucket: name, table: await createIndexTable(clients.dynamodb), eventsQueueUrl: eventsUrl, auditTable: await createAuditTable(clients.dynamodb) };
    const ids = ['missing-priors', 'protocol-check', 'threshold-segmentation', 'image-noise', 'triage'];
    const queues: AwsAiSettings['queues'] = {};
    for (const id of ids) queues[id] = { url: await queue(`${name}-${id}.fifo`, true), deadLetterUrl: await queue(`${name}-${id}-dead.fifo`, true) };
    settings = { stateTable: await createAiStateTable(clients.dynamodb), queues, readinessQueueUrl: await queue(`${name}-readiness`) };
    ai = await createAwsAi(obs, {
      storage: createAwsStorage(storageSettings, clients),
      ai: settings,
      config,
      clients,
      // protocol-check fails while the test says so, as a broken analyser would.
      analysers: (shipped) =>
        shipped.map((a): Analyser =>
          a.id !== 'protocol-check'
            ? a
            : {
                ...a,
                analyse: (input) => {
                  if (failProtocolCheck) throw new Error('scanner table unavailable');
                  return a.analyse(input);
                },
              },
        ),
    });
    await ai.pipeline.registerAnalysers();
    stowHandler = createApiHandler(createAwsStorage(storageSettings, clients), testConfig());
    // Powertools writes EMF metrics to standard output.
    const write = process.stdout.write.bind(process.stdout);
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array, ...rest: unknown[]) => {
      if (typeof chunk === 'string' && chunk.includes('"_aws"')) emf.push(chunk);
      return write(chunk, ...(rest as []));
    });
  });
  afterAll(() => {
    vi.restoreAllMocks();
  });

  async function store(files: Uint8Array[]): Promise<void> {
    const body = multipartBody(files.map((bytes) => ({ bytes })));
    const contentType = `multipart/related; type="application/dicom"; boundary=${BOUNDARY}`;
    const res = await stowHandler(
      {
        resource: '/{proxy+}',
        path: '/dicomweb/studies',
        httpMethod: 'POST',
        headers: { Host: 'h', 'Content-Type': contentType, Accept: 'application/dicom+json' },
        multiValueHeaders: {},
        body: Buffer.from(body).toString('base64'),
        isBase64Encoded: true,
        requestContext: { path: '/prod/dicomweb/studies', stage: 'prod', httpMethod: 'POST', identity: {} },
      } as never,
      lambdaContext,
    );
    expect(res.statusCode).toBe(200);
  }

  /** Plays Lambda's event sources until nothing is left to deliver (or the deadline passes). */
  async function drain(deadlineMs: number): Promise<{ retried: string[] }> {
    const retried: string[] = [];
    const until = Date.now() + deadlineMs;
    while (Date.now() < until) {
      let delivered = 0;
      const arrivals = await receive(clients.sqs, eventsUrl);
      if (arrivals.length) {
        delivered += arrivals.length;
        const res = await handleArchiveEvents(sqsEvent(arrivals, 'arn:aws:sqs:us-east-1:0:events'), lambdaContext, ai, obs);
        expect(res.batchItemFailures).toEqual([]);
        // The event source deletes what the handler did not report as failed.
        for (const m of arrivals) await ai.clients.sqs.send(new DeleteMessageCommand({ QueueUrl: eventsUrl, ReceiptHandle: m.ReceiptHandle! }));
      }
      const checks = await receive(clients.sqs, settings.readinessQueueUrl);
      if (checks.length) {
        delivered += checks.length;
        await handleReadiness(sqsEvent(checks, 'arn:aws:sqs:us-east-1:0:readiness'), lambdaContext, ai, obs);
        for (const m of checks) await ai.clients.sqs.send(new DeleteMessageCommand({ QueueUrl: settings.readinessQueueUrl, ReceiptHandle: m.ReceiptHandle! }));
      }
      for (const analyser of ai.analysers) {
        const jobs = await receive(clients.sqs, settings.queues[analyser.id].url, 0, 1);
        if (!jobs.length) continue;
        delivered += jobs.length;
        const res = await handleAnalysisJobs(sqsEvent(jobs, `arn:aws:sqs:us-east-1:0:${analyser.id}.fifo`), lambdaContext, ai, analyser, obs);
        retried.push(...res.batchItemFailures.map(() => analyser.id));
        // Successful jobs were acknowledged by the pipeline itself; Lambda's own delete is then a no-op.
      }
      if (!delivered) {
        const open = await ai.state.unfinishedJobs(100);
        const collecting = (await ai.state.worklist({ state: 'collecting', limit: 10, offset: 0 })).length + (await ai.state.worklist({ state: 'analysing', limit: 10, offset: 0 })).length;
        if (!open.length && !collecting) return { retried };
        await new Promise((r) => setTimeout(r, 250));
      }
    }
    throw new Error('the pipeline did not settle in time');
  }

  it('takes a stored study from arrival to results through the events, readiness and worker handlers', async () => {
    const ct = syntheticCt({ patientID: 'LAMBDA-AI-1', studyDate: '20250301', studyDescription: 'CT CHEST', slices: 6, size: 32, sphereRadiusMm: 5 });
    await store(ct.files);
    const { retried } = await drain(60_000);
    expect(retried).toEqual([]);
    const results = await ai.state.resultsOf(ct.studyInstanceUID);
    expect(results.map((r) => `${r.analyserId}:${r.status}`).sort()).toEqual([
      'image-noise:analysed',
      'missing-priors:analysed',
      'protocol-check:analysed',
      'threshold-segmentation:analysed',
      'triage:analysed',
    ]);
    const seg = results.find((r) => r.analyserId === 'threshold-segmentation')!;
    expect(seg.outputs.volumeMl).toBeCloseTo((ct.sphereVoxels * ct.voxelMm3) / 1000, 6);
    // The results are in the archive: one SR per analysis and the SEG.
    const series = await allMatches(ai.storage.index.query({ level: 'series', filters: [{ tag: 0x0020000d, vr: 'UI', value: ct.studyInstanceUID }], fuzzy: false, limit: 100, offset: 0 }));
    expect(series.length).toBe(1 + 5 + 1);
    // Per-analysis metrics went out in CloudWatch's embedded metric format, by analyser.
    const latency = emf.map((l) => JSON.parse(l) as Record<string, unknown>).filter((m) => 'AnalysisLatency' in m);
    expect(latency.map((m) => m.Analyser).sort()).toEqual(['image-noise', 'missing-priors', 'protocol-check', 'threshold-segmentation', 'triage']);
  }, 90_000);

  it('retries a failing analyser through batch item failures, dead-letters it with its reason, and still triages', async () => {
    failProtocolCheck = true;
    try {
      const ct = syntheticCt({ patientID: 'LAMBDA-AI-2', studyDate: '20250302', studyDescription: 'CT CHEST', slices: 4, size: 16, sphereRadiusMm: 3 });
      await store(ct.files);
      const { retried } = await drain(60_000);
      // Three attempts: two reported back for a retry after their backoff, the third dead-lettered.
      expect(retried).toEqual(['protocol-check', 'protocol-check']);
      const results = await ai.state.resultsOf(ct.studyInstanceUID);
      expect(results.find((r) => r.analyserId === 'protocol-check')).toMatchObject({ status: 'failed', summary: expect.stringContaining('scanner table unavailable') });
      expect(results.find((r) => r.analyserId === 'triage')?.status).toBe('analysed');
      const dead = await ai.queue.deadLetters('protocol-check');
      expect(dead.some((d) => d.body.studyInstanceUID === ct.studyInstanceUID && d.error.includes('scanner table unavailable'))).toBe(true);
    } finally {
      failProtocolCheck = false;
    }
  }, 90_000);

  it('reports an unreadable archive event back to SQS, so that it ends in the dead-letter queue', async () => {
    await clients.sqs.send(new SendMessageCommand({ QueueUrl: eventsUrl, MessageBody: 'not an event' }));
    const [poison] = await receive(clients.sqs, eventsUrl, 1);
    const res = await handleArchiveEvents(sqsEvent([poison], 'arn:aws:sqs:us-east-1:0:events'), lambdaContext, ai, obs);
    expect(res.batchItemFailures).toEqual([{ itemIdentifier: poison.MessageId }]);
  });

  it('on its schedule, re-queues lost jobs and reports drift per analyser', async () => {
    const before = emf.length;
    const schedule = { 'detail-type': 'Scheduled Event', source: 'aws.events', detail: {} } as unknown as ScheduledEvent;
    await handleReadiness(schedule, lambdaContext, ai, obs);
    const drift = emf.slice(before).map((l) => JSON.parse(l) as Record<string, unknown>).filter((m) => 'DriftDetected' in m);
    expect(drift.map((m) => m.Analyser).sort()).toEqual(['image-noise', 'missing-priors', 'protocol-check', 'threshold-segmentation', 'triage']);
  });

  it('sends a stalled study\'s jobs again from the schedule only once the study has been still for six hours', async () => {
    const ct = syntheticCt({ patientID: 'LAMBDA-AI-3', studyDate: '20250303', studyDescription: 'CT CHEST', slices: 4, size: 16, sphereRadiusMm: 3 });
    await store(ct.files);
    const arrivals = await receive(clients.sqs, eventsUrl);
    await handleArchiveEvents(sqsEvent(arrivals, 'arn:aws:sqs:us-east-1:0:events'), lambdaContext, ai, obs);
    for (const m of arrivals) await clients.sqs.send(new DeleteMessageCommand({ QueueUrl: eventsUrl, ReceiptHandle: m.ReceiptHandle! }));
    const checks = await receive(clients.sqs, settings.readinessQueueUrl, 5);
    expect((await handleReadiness(sqsEvent(checks, 'arn:aws:sqs:us-east-1:0:readiness'), lambdaContext, ai, obs)).dispatched).toBe(1);
    // The missing-priors job is taken by a worker that then stalls: its message is in flight, unfinished.
    const [inFlight] = await receive(clients.sqs, settings.queues['missing-priors'].url, 1, 1);
    expect(JSON.parse(inFlight.Body!).body.studyInstanceUID).toBe(ct.studyInstanceUID);
    // Seconds later the schedule leaves it alone; six hours later it would send it again.
    expect(await ai.pipeline.resumeUnfinished({ unchangedFor: LOST_JOB_AFTER_MS })).toBe(0);
    const later = await createAwsAi(obs, { storage: createAwsStorage(storageSettings, clients), ai: settings, config, clients, now: () => new Date(Date.now() + LOST_JOB_AFTER_MS + 60_000) });
    expect(await later.pipeline.resumeUnfinished({ unchangedFor: LOST_JOB_AFTER_MS })).toBe(1);
    // The stalled worker finishes after all; everything else runs as usual.
    const missingPriors = ai.analysers.find((a) => a.id === 'missing-priors')!;
    await handleAnalysisJobs(sqsEvent([inFlight], 'arn:aws:sqs:us-east-1:0:missing-priors.fifo'), lambdaContext, ai, missingPriors, obs);
    await drain(60_000);
    expect((await ai.state.resultsOf(ct.studyInstanceUID)).map((r) => r.analyserId).sort()).toEqual(['image-noise', 'missing-priors', 'protocol-check', 'threshold-segmentation', 'triage']);
  }, 90_000);

  it('serves the worklist and dead letters through the AI API handler, each request in the audit trail', async () => {
    const audit = aiApiAudit(storageSettings, clients.dynamodb, 'ai-test');
    const api = createAiApiHandler(settings, clients, undefined, audit);
    const claims = { sub: 'reader-9', client_id: 'viewer' };
    const get = async (path: string) =>
      api({ resource: '/ai/{proxy+}', path, httpMethod: 'GET', headers: { Host: 'h' }, multiValueHeaders: {}, body: null, isBase64Encoded: false, requestContext: { path: `/prod${path}`, stage: 'prod', httpMethod: 'GET', identity: { sourceIp: '10.1.2.3' }, authorizer: { claims } } } as never, lambdaContext);
    const worklist = await get('/ai/worklist');
    expect(worklist.statusCode).toBe(200);
    expect((JSON.parse(worklist.body) as Array<{ state: string }>).length).toBeGreaterThanOrEqual(2);
    const dead = JSON.parse((await get('/ai/dead-letters')).body) as Array<{ analyserId: string }>;
    expect(dead.map((d) => d.analyserId)).toContain('protocol-check');
    expect((await get('/ai/worklist?state=bogus')).statusCode).toBe(400);
    const records = [];
    for await (const r of audit.log.search({ userID: 'reader-9' })) records.push(r);
    expect(records.map((r) => `${r.EventIdentification.EventID.code} ${r.EventIdentification.EventOutcomeIndicator} ${r.ParticipantObjectIdentification.at(-1)?.ParticipantObjectID}`)).toEqual([
      '110112 4 ai/worklist',
      '110112 0 ai/dead-letters',
      '110112 0 ai/worklist',
    ]);
    expect(records[0].ActiveParticipant[0]).toMatchObject({ UserID: 'reader-9', AlternativeUserID: 'viewer', NetworkAccessPointID: '10.1.2.3' });
  });

  it('leaves no message behind in the job queues', async () => {
    for (const id of Object.keys(settings.queues)) {
      const attrs = await clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl: settings.queues[id].url, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }));
      expect(Number(attrs.Attributes?.ApproximateNumberOfMessages) + Number(attrs.Attributes?.ApproximateNumberOfMessagesNotVisible), id).toBe(0);
    }
  });
});
