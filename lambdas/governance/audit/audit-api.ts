// The audit trail's read API: GET /audit/events?patient=&study=&user=&since=&until=&limit= answers the
// matching records (PS3.15 A.5 fields, as JSON), newest first. Reading the trail is itself recorded
// (Audit Log Used), naming the patient or study asked about.
import { Hono, type Context } from 'hono';
import { HttpProblem } from '../../dicomweb/http/problem.js';
import type { AuditLog, AuditQuery, AuditRecord } from '../../storage/ports.js';
import { AuditEvent, AuditObjectType } from './audit-codes.js';
import type { AuditedAction } from './audited-action.js';

export const AUDIT_ROOT = '/audit';
const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 1000;
const PARAMETERS = new Set(['patient', 'study', 'user', 'since', 'until', 'limit']);

/** An ISO 8601 date or date-time as a UTC instant; a bare date is the day's start (since) or end (until). */
function instant(name: string, value: string | undefined, endOfDay: boolean): string | undefined {
  if (value === undefined) return undefined;
  const bare = /^\d{4}-\d{2}-\d{2}$/.test(value);
  const ms = Date.parse(bare ? `${value}T${endOfDay ? '23:59:59.999' : '00:00:00.000'}Z` : value);
  if (!bare && !/^\d{4}-\d{2}-\d{2}T/.test(value)) throw new HttpProblem(400, `${name} must be an ISO 8601 date (2026-12-08) or date-time (2026-12-08T10:00:00Z), got "${value.slice(0, 64)}"`);
  if (Number.isNaN(ms)) throw new HttpProblem(400, `${name} is not a valid date or time: "${value.slice(0, 64)}"`);
  return new Date(ms).toISOString();
}

export function auditQueryOf(c: Context): { query: AuditQuery; limit: number } {
  const params = c.req.query();
  const unknown = Object.keys(params).filter((k) => !PARAMETERS.has(k));
  if (unknown.length) throw new HttpProblem(400, `unknown parameter ${unknown.map((k) => `"${k.slice(0, 40)}"`).join(', ')}; the audit trail is searched by ${[...PARAMETERS].join(', ')}`);
  const limit = params.limit === undefined ? DEFAULT_LIMIT : Number(params.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) throw new HttpProblem(400, `limit must be a whole number from 1 to ${MAX_LIMIT}, got "${String(params.limit).slice(0, 20)}"`);
  const since = instant('since', params.since, false);
  const until = instant('until', params.until, true);
  if (since && until && since > until) throw new HttpProblem(400, `since (${since}) is after until (${until})`);
  const query: AuditQuery = {
    ...(params.patient !== undefined ? { patientID: params.patient } : {}),
    ...(params.study !== undefined ? { studyInstanceUID: params.study } : {}),
    ...(params.user !== undefined ? { userID: params.user } : {}),
    ...(since ? { since } : {}),
    ...(until ? { until } : {}),
  };
  return { query, limit };
}

/** How a read of the trail is itself recorded. */
export function describeAuditRequest(c: Context): AuditedAction | undefined {
  if (c.req.method === 'OPTIONS') return undefined;
  const params = new URL(c.req.url).searchParams;
  const study = params.get('study');
  return {
    event: AuditEvent.AuditLogUsed,
    action: 'R',
    studies: study ? [study.slice(0, 256)] : [],
    objects: [
      {
        ParticipantObjectTypeCode: 2,
        ParticipantObjectTypeCodeRole: 13, // security resource
        ParticipantObjectIDTypeCode: AuditObjectType.URI,
        ParticipantObjectID: c.req.path.slice(0, 1024),
        ParticipantObjectQuery: new URL(c.req.url).search.replace(/^\?/, '').slice(0, 4096),
        ParticipantObjectDescription: 'audit trail',
      },
      ...(params.get('patient') ? [{ ParticipantObjectTypeCode: 1 as const, ParticipantObjectTypeCodeRole: 1, ParticipantObjectIDTypeCode: AuditObjectType.PatientNumber, ParticipantObjectID: params.get('patient')!.slice(0, 256) }] : []),
    ],
  };
}

function nextPage(c: Context, until: string): string {
  const params = new URLSearchParams(c.req.query());
  params.set('until', until);
  return params.toString();
}

export function createAuditApi(log: AuditLog): Hono {
  const app = new Hono();
  app.get('/events', async (c) => {
    const { query, limit } = auditQueryOf(c);
    const records: AuditRecord[] = [];
    for await (const r of log.search(query)) {
      records.push(r);
      if (records.length >= limit) break;
    }
    // The next page: the same search up to the last record's time (records of that same millisecond come again).
    const last = records.length === limit ? records[records.length - 1].EventIdentification.EventDateTime : undefined;
    return c.json({ records, ...(last ? { next: `${c.req.path}?${nextPage(c, last)}` } : {}) });
  });
  return app;
}
