// What an HTTP request to the archive is, in the audit trail's terms (PS3.15 A.5.3): store and retrieve
// are DICOM Instances Transferred, metadata DICOM Instances Accessed, searches Query, a study's delete
// DICOM Study Deleted, UPS-RS Procedure Record — with the studies its URL names. The request is described
// from its method and URL alone, before it runs, so that a refused or failing one is described the same.
import type { AuditCode, AuditObject } from '../../storage/ports.js';
import { keyOfResultId } from '../../ai/ports.js';
import { AuditEvent, AuditObjectType, AuditRole, STUDY_ROOT_FIND, UPS_PULL } from './audit-codes.js';

export interface AuditedAction {
  event: AuditCode;
  action: 'C' | 'R' | 'U' | 'D' | 'E';
  /** The requester's part in a transfer: Source when it sends instances, Destination when it receives them. */
  requesterRole?: AuditCode;
  /** The archive's part, when it is not the other side of the requester's (a C-MOVE: the archive sends to a third party). */
  archiveRole?: AuditCode;
  /** Study Instance UIDs the URL names. */
  studies: string[];
  /** What under the study (series, instance, frames, rendered), in words. */
  description?: string;
  /** A search's query string, and the SOP class it searches in. */
  query?: { text: string; sopClassUID: string };
  /** Other things acted on (a workitem, an AI result, the audit log itself). */
  objects?: AuditObject[];
}

const RESOURCES = new Set(['studies', 'series', 'instances', 'workitems']);

/** Values taken from a URL are capped: a hostile URL must not make a hostile record. */
const MAX_VALUE = 256;

function decoded(segment: string): string {
  try {
    return decodeURIComponent(segment).slice(0, MAX_VALUE);
  } catch {
    return segment.slice(0, MAX_VALUE);
  }
}

export const uriObject = (uri: string, description: string): AuditObject => ({
  ParticipantObjectTypeCode: 2,
  ParticipantObjectTypeCodeRole: 3,
  ParticipantObjectIDTypeCode: AuditObjectType.URI,
  ParticipantObjectID: uri.slice(0, 1024),
  ParticipantObjectDescription: description,
});

const transferred = (method: string) =>
  method === 'POST' ? { event: AuditEvent.InstancesTransferred, action: 'C' as const, requesterRole: AuditRole.Source } : { event: AuditEvent.InstancesTransferred, action: 'R' as const, requesterRole: AuditRole.Destination };

/**
 * A request under the DICOMweb root, `path` being the part after it ("/studies/1.2.3/metadata").
 * Undefined for what is not an access.
 */
export function describeDicomWebRequest(method: string, path: string, search: string): AuditedAction | undefined {
  const s = path.split('/').filter(Boolean).map(decoded);
  // Preflights, the health check and paths that name no resource (answered 404) access nothing.
  if (method === 'OPTIONS' || !RESOURCES.has(s[0] ?? '')) return undefined;
  const searching = method === 'GET' || method === 'HEAD';
  const query = (sopClassUID: string) => ({ event: AuditEvent.Query, action: 'E' as const, studies: [] as string[], query: { text: search.replace(/^\?/, '').slice(0, 4096), sopClassUID } });

  if (s[0] === 'workitems') {
    if (s.length === 1 && searching) return query(UPS_PULL);
    // POST /workitems creates; POST /workitems/{uid} updates, as PUT …/state and POST …/cancelrequest change it.
    const action = method === 'POST' && s.length === 1 ? 'C' : searching ? 'R' : 'U';
    return { event: AuditEvent.ProcedureRecord, action, studies: [], objects: [uriObject(`workitems/${s.slice(1).join('/')}`, `UPS workitem ${s.slice(2).join(' ') || ''}`.trim())] };
  }
  // /studies, /series, /instances, and the same under a study or series: searches, or a store.
  const last = s[s.length - 1];
  const isSearch = searching && (s.length === 1 || ((last === 'series' || last === 'instances') && s.length % 2 === 1));
  if (isSearch) return { ...query(STUDY_ROOT_FIND), studies: s[0] === 'studies' && s[1] ? [s[1]] : [] };
  if (s[0] !== 'studies') return undefined;
  const studies = s[1] ? [s[1]] : [];
  // What under the study, in the URL's own words: "series 1.2 instances 1.2.3 frames 1,2".
  const description = s.slice(2).join(' ') || undefined;
  if (method === 'POST') return { ...transferred('POST'), studies, ...(description ? { description } : {}) };
  if (method === 'DELETE') {
    // Deleting a whole study is its own event; a series or an instance is an access that deletes.
    return s.length === 2 ? { event: AuditEvent.StudyDeleted, action: 'D', studies } : { event: AuditEvent.InstancesAccessed, action: 'D', studies, ...(description ? { description } : {}) };
  }
  if (last === 'metadata') return { event: AuditEvent.InstancesAccessed, action: 'R', studies, ...(description ? { description } : {}) };
  return { ...transferred(method), studies, ...(description ? { description } : {}) };
}

/**
 * A request to the AI pipeline's API, `path` being the part after its root ("/results/<id>/feedback"):
 * the worklist (patients' names and findings) and results are accesses to the studies they are of;
 * feedback is a reader's change to a study's AI result; the analyser registry is configuration.
 */
export function describeAiRequest(method: string, path: string, search: string): AuditedAction | undefined {
  if (method === 'OPTIONS') return undefined;
  const s = path.split('/').filter(Boolean).map(decoded);
  const resource = uriObject(`ai/${s.join('/')}`, 'AI pipeline');
  const studyOfResult = (id: string | undefined) => {
    const key = id ? keyOfResultId(id) : undefined;
    return key ? [key.split('/')[0]] : [];
  };
  if (s[0] === 'studies' && s[2] === 'results') return { event: AuditEvent.InstancesAccessed, action: 'R', studies: s[1] ? [s[1]] : [], description: 'AI results' };
  if (s[0] === 'results' && s[2] === 'feedback') return { event: AuditEvent.InstancesAccessed, action: 'U', studies: studyOfResult(s[1]), description: 'feedback on an AI result', objects: [resource] };
  if (s[0] === 'results') return { event: AuditEvent.InstancesAccessed, action: 'R', studies: studyOfResult(s[1]), description: 'AI result', objects: [resource] };
  if (s[0] === 'analysers' && method === 'PATCH') return { event: AuditEvent.SecurityAlert, action: 'E', studies: [], description: 'AI analyser settings changed', objects: [resource] };
  // The worklist, the registry, metrics, dead letters: searches over many studies.
  return { event: AuditEvent.Query, action: 'E', studies: [], objects: [{ ...resource, ParticipantObjectTypeCodeRole: 24, ParticipantObjectQuery: search.replace(/^\?/, '').slice(0, 4096) }] };
}

/** Where the DIMSE forwarding API is served (rules, dead letters). */
export const DIMSE_ROOT = '/dimse';

/** The forwarding API: its dead letters name studies that did not reach the hospital's PACS. */
export function describeForwardingRequest(c: { req: { method: string; path: string } }): AuditedAction | undefined {
  if (c.req.method === 'OPTIONS') return undefined;
  return { event: AuditEvent.Query, action: 'E', studies: [], objects: [{ ...uriObject(c.req.path.slice(0, 1024), 'DIMSE forwarding'), ParticipantObjectTypeCodeRole: 24 }] };
}
