// The AI pipeline's readiness stage on AWS. Woken by the delayed messages the events function sends
// (a study's quiet period has passed) and by a schedule (a safety net that also re-queues jobs whose
// messages were lost and reports drift): dispatches every study that has been quiet long enough to its
// analysers' queues.
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Context, ScheduledEvent, SQSEvent } from 'aws-lambda';
import { analyserMetrics } from '../../ai/monitoring/metrics.js';
import { cachedUntilRejected } from '../../cached-until-rejected.js';
import { coordinatorStorage, createAwsAi, type AwsAi } from '../ai/runtime.js';
import { observability, type Observability } from '../observability.js';

/** Leave this much of the invocation's time when deciding whether to dispatch another page of studies. */
const SAFETY_MARGIN_MS = 60_000;
/** Results per analyser that the drift signal compares. */
const DRIFT_WINDOW = 1000;
/**
 * A study's unfinished jobs are sent again only once it has not changed for this long: longer than a
 * job can legitimately wait in its queue and its retries (three attempts with backoff, ten-minute runs).
 */
export const LOST_JOB_AFTER_MS = 6 * 3600_000;

const isSchedule = (event: SQSEvent | ScheduledEvent): event is ScheduledEvent => 'detail-type' in event;

export async function handleReadiness(event: SQSEvent | ScheduledEvent, context: Context, ai: AwsAi, obs: Observability): Promise<{ dispatched: number }> {
  obs.logger.addContext(context);
  let dispatched = 0;
  for (;;) {
    const n = await ai.pipeline.dispatchQuietStudies();
    dispatched += n;
    if (n === 0 || context.getRemainingTimeInMillis() < SAFETY_MARGIN_MS) break;
  }
  if (isSchedule(event)) {
    const resumed = await ai.pipeline.resumeUnfinished({ unchangedFor: LOST_JOB_AFTER_MS });
    if (resumed) obs.logger.warn('re-queued the jobs of studies whose analysis stalled', { studies: resumed });
    for (const analyser of ai.analysers) {
      const m = analyserMetrics(analyser.id, await ai.state.recentResults(analyser.id, DRIFT_WINDOW));
      const single = obs.metrics.singleMetric();
      single.addDimension('Analyser', analyser.id);
      single.addMetric('DriftDetected', MetricUnit.Count, m.drift.status === 'drift' ? 1 : 0);
      if (m.drift.status === 'drift') obs.logger.warn('output drift', { analyser: analyser.id, reasons: m.drift.reasons });
    }
  }
  obs.logger.info('readiness checked', { dispatched, trigger: isSchedule(event) ? 'schedule' : 'quiet period' });
  return { dispatched };
}

const obs = observability('ai-readiness');
const ai = cachedUntilRejected(async () => {
  const created = await createAwsAi(obs, coordinatorStorage('ai-readiness'));
  await created.pipeline.registerAnalysers();
  return created;
});
export const handler = async (event: SQSEvent | ScheduledEvent, context: Context): Promise<{ dispatched: number }> => handleReadiness(event, context, await ai(), obs);
