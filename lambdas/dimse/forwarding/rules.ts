// Which stored instances go on to which AE: the rules of DIMSE_FORWARD (parsed with the other settings)
// applied to InstanceStored events.
import type { ArchiveEvent } from '../../storage/ports.js';
import type { DimsePeer, ForwardRule } from '../settings.js';

type Stored = Extract<ArchiveEvent, { type: 'InstanceStored' }>;

export function ruleMatches(rule: ForwardRule, event: Stored): boolean {
  if (rule.all) return true;
  if (rule.aiResults && !event.producedBy) return false;
  if (rule.modalities && !rule.modalities.has((event.modality ?? '').toUpperCase())) return false;
  if (rule.callingAeTitles && !(event.receivedFrom && rule.callingAeTitles.has(event.receivedFrom))) return false;
  if (rule.sopClasses && !rule.sopClasses.has(event.sopClassUID)) return false;
  return rule.aiResults || !!rule.modalities || !!rule.callingAeTitles || !!rule.sopClasses;
}

/**
 * The destinations an event's instance goes to: every rule that matches, once per destination. An
 * instance is never sent back to the AE it came from, and a repeated store (the same bytes again) is not
 * forwarded again.
 */
export function destinationsFor(rules: readonly ForwardRule[], event: ArchiveEvent): DimsePeer[] {
  if (event.type !== 'InstanceStored' || event.repeated) return [];
  const out = new Map<string, DimsePeer>();
  for (const rule of rules) {
    if (rule.destination.aeTitle === event.receivedFrom) continue;
    if (ruleMatches(rule, event)) out.set(rule.destination.aeTitle, rule.destination);
  }
  return [...out.values()];
}
