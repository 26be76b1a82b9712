// How each kind of request is named in the audit trail (PS3.15 A.5.3's events), from its method and URL.
import { describe, expect, it } from 'vitest';
import { describeAiRequest, describeDicomWebRequest } from '../../lambdas/governance/audit/audited-action.js';

const S = '1.2.3';
const summary = (a: ReturnType<typeof describeDicomWebRequest>) => a && [a.event.code, a.action, a.studies.join(','), a.description ?? a.query?.text ?? a.objects?.[0]?.ParticipantObjectID ?? ''];

describe('audited actions', () => {
  it('names DICOMweb requests by the event PS3.15 gives them', () => {
    const cases: Array<[string, string, string, unknown]> = [
      ['POST', '/studies', '', ['110104', 'C', '', '']],
      ['POST', `/studies/${S}`, '', ['110104', 'C', S, '']],
      ['GET', '/studies', '?PatientID=7', ['110112', 'E', '', 'PatientID=7']],
      ['GET', `/studies/${S}/series`, '', ['110112', 'E', S, '']],
      ['GET', `/studies/${S}/series/4/instances`, '?limit=2', ['110112', 'E', S, 'limit=2']],
      ['GET', `/studies/${S}`, '', ['110104', 'R', S, '']],
      ['GET', `/studies/${S}/metadata`, '', ['110103', 'R', S, 'metadata']],
      ['GET', `/studies/${S}/series/4/instances/5/frames/1,2`, '', ['110104', 'R', S, 'series 4 instances 5 frames 1,2']],
      ['GET', `/studies/${S}/series/4/instances/5/rendered`, '', ['110104', 'R', S, 'series 4 instances 5 rendered']],
      ['DELETE', `/studies/${S}`, '', ['110105', 'D', S, '']],
      ['DELETE', `/studies/${S}/series/4`, '', ['110103', 'D', S, 'series 4']],
      ['GET', '/workitems', '?ScheduledProcedureStepPriority=HIGH', ['110112', 'E', '', 'ScheduledProcedureStepPriority=HIGH']],
      ['POST', '/workitems', '?1.2.9', ['110111', 'C', '', 'workitems/']],
      ['POST', '/workitems/1.2.9', '', ['110111', 'U', '', 'workitems/1.2.9']],
      ['PUT', '/workitems/1.2.9/state', '', ['110111', 'U', '', 'workitems/1.2.9/state']],
      ['GET', '/workitems/1.2.9', '', ['110111', 'R', '', 'workitems/1.2.9']],
    ];
    for (const [method, path, search, expected] of cases) expect(summary(describeDicomWebRequest(method, path, search)), `${method} ${path}`).toEqual(expected);
    // Nothing accessed: a preflight, the health check, a path that names no resource.
    for (const [method, path] of [['OPTIONS', `/studies/${S}`], ['GET', '/health'], ['GET', '/nothing-here']]) expect(describeDicomWebRequest(method, path, '')).toBeUndefined();
  });

  it('caps what it takes from a hostile URL', () => {
    const action = describeDicomWebRequest('GET', `/studies/${'9'.repeat(5000)}/metadata`, `?${'x'.repeat(10_000)}`)!;
    expect(action.studies[0]).toHaveLength(256);
    expect(describeDicomWebRequest('GET', '/studies', `?${'x'.repeat(10_000)}`)!.query!.text).toHaveLength(4096);
  });

  it('names AI API requests by the study they read or change', () => {
    const id = Buffer.from(`${S}/1/triage@1.0.0`).toString('base64url');
    expect(summary(describeAiRequest('GET', `/studies/${S}/results`, ''))).toEqual(['110103', 'R', S, 'AI results']);
    expect(summary(describeAiRequest('POST', `/results/${id}/feedback`, ''))).toEqual(['110103', 'U', S, 'feedback on an AI result']);
    expect(summary(describeAiRequest('GET', '/worklist', '?state=analysed'))).toEqual(['110112', 'E', '', 'ai/worklist']);
    expect(summary(describeAiRequest('PATCH', '/analysers/triage', ''))).toEqual(['110113', 'E', '', 'AI analyser settings changed']);
  });
});
