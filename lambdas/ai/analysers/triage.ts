// Triage runs after every other analyser of a revision: it takes the order's own priority (Requested
// Procedure Priority, urgent words in the request) and the other analysers' priorities, and sets the
// study's place in the worklist with the reasons that put it there.
import { PRIORITY_RANK, type PriorityLevel } from '../ports.js';
import { Codes } from '../results/codes.js';
import { NotAnalysableError, type Analyser, type AnalysisOutcome, type StudyInput } from './analyser.js';
import { item, profileOf, sourceOf, text } from './attributes.js';

const URGENT_WORDS = /\b(STAT|URGENT|EMERGENCY|TRAUMA|STROKE|CODE STROKE)\b/;

function orderPriority(study: StudyInput): { level: PriorityLevel; reason: string } | undefined {
  const first = study.instances[0]?.metadata;
  const requestPriority = (text(first, 'RequestedProcedurePriority') ?? text(item(first, 'RequestAttributesSequence'), 'RequestedProcedurePriority'))?.toUpperCase();
  if (requestPriority === 'STAT') return { level: 'urgent', reason: 'requested procedure priority STAT' };
  if (requestPriority === 'HIGH') return { level: 'high', reason: 'requested procedure priority HIGH' };
  const profile = profileOf(study.instances);
  const words = `${profile.requestedProcedure} ${text(first, 'ReasonForTheRequestedProcedure') ?? ''} ${profile.studyDescription}`.toUpperCase();
  const urgent = URGENT_WORDS.exec(words);
  if (urgent) return { level: 'urgent', reason: `request says "${urgent[1]}"` };
  return undefined;
}

export function createTriage(): Analyser {
  return {
    id: 'triage',
    name: 'Worklist triage',
    version: '1.0.0',
    vendor: 'Serverless PACS',
    intendedUse: 'Workflow: orders the reading worklist by the request\'s priority and the other analysers\' findings; never lowers a priority set by the order.',
    stage: 'summary',
    filter: {},
    async analyse(study: StudyInput): Promise<AnalysisOutcome> {
      if (!study.instances.length) throw new NotAnalysableError('the study has no instances');
      const candidates: Array<{ level: PriorityLevel; reason: string }> = [];
      const order = orderPriority(study);
      if (order) candidates.push(order);
      for (const r of study.primaryResults) {
        if (r.priority) candidates.push({ level: r.priority.level, reason: `${r.analyserId}: ${r.priority.reason}` });
        if (r.status === 'failed') candidates.push({ level: 'routine', reason: `${r.analyserId} failed (${r.summary}); read without it` });
      }
      const level = candidates.reduce<PriorityLevel>((best, c) => (PRIORITY_RANK[c.level] < PRIORITY_RANK[best] ? c.level : best), 'routine');
      const reasons = candidates.filter((c) => c.level === level).map((c) => c.reason);
      const reason = reasons.length ? reasons.join('; ') : 'no urgent finding or request';
      return {
        status: 'analysed',
        summary: `${level}: ${reason}`,
        positive: level !== 'routine',
        priority: { level, reason },
        outputs: { rank: PRIORITY_RANK[level] },
        sourceImages: study.instances.slice(0, 1).map(sourceOf),
        evaluations: [{ name: Codes.Finding, value: `Reading priority ${level}: ${reason}` }],
        groups: [],
      };
    },
  };
}
