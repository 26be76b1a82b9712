// The audit trail of HTTP requests: a Hono middleware that, for every request the application answers
// (refusals included), writes one record — who, what, when, outcome, from where — before the answer
// leaves. If the record cannot be written the answer is replaced by 503: nothing is read out of the
// archive, and no change is confirmed, without its record. A change already made (a store, a delete)
// stays made — a store retried is answered "identical", and recorded — and the record that could not
// be written goes to the runtime's error log whole, so that it is not lost either.
import { randomUUID } from 'node:crypto';
import { Hono, type Context, type MiddlewareHandler } from 'hono';
import { problemBody } from '../../dicomweb/http/problem.js';
import type { StructuredLog } from '../../logging.js';
import type { AuditLog, AuditObject, AuditParticipant, AuditRecord } from '../../storage/ports.js';
import { AuditObjectType, AuditRole } from './audit-codes.js';
import type { AuditedAction } from './audited-action.js';
import type { IdentifyRequester, Requester } from './requester.js';
import type { AuditedStudy, StudyPatients } from './study-patients.js';

declare module 'hono' {
  interface ContextVariableMap {
    /** Studies (with their patients) the request touched, by Study Instance UID. */
    auditedStudies: Map<string, AuditedStudy>;
  }
}

/** Called by a handler that learns of studies the URL did not name (the instances a STOW-RS request stored). */
export function noteAuditedStudy(c: Context, study: AuditedStudy): void {
  c.get('auditedStudies')?.set(study.studyInstanceUID, study);
}

/** What an application needs to keep an audit trail: where records go, whose they are, the archive's name. */
export interface AuditSetup {
  log: AuditLog;
  /** The archive as the audit source: its name in the records. */
  sourceID: string;
  requester: IdentifyRequester;
  patients: StudyPatients;
}

export interface HttpAuditOptions extends AuditSetup {
  describe: (c: Context) => AuditedAction | undefined;
  /** Where a record goes when the audit log cannot take it. */
  errors: StructuredLog;
}

const RETRY_AFTER_SECONDS = 30;

export function httpAudit(options: HttpAuditOptions): MiddlewareHandler {
  return async (c, next) => {
    const action = options.describe(c);
    if (!action) return next();
    const studies = new Map<string, AuditedStudy>();
    c.set('auditedStudies', studies);
    // Read before the request runs: after a delete the study, and so its patient, is gone.
    for (const study of await Promise.all(action.studies.map((uid) => options.patients.lookup(uid)))) studies.set(study.studyInstanceUID, study);
    const at = new Date();
    await next();
    // Studies a handler noted (the instances a STOW-RS stored) are known now; those looked up are kept already.
    for (const study of studies.values()) if (study.patientID && !action.studies.includes(study.studyInstanceUID)) options.patients.remember(study);
    const reason = await outcomeText(c.res);
    const outcome = { indicator: outcomeOf(c.res.status), description: `HTTP ${c.res.status}${reason ? `: ${reason}` : ''}` };
    const record = auditRecord({ action, at, outcome, requester: options.requester(c), sourceID: options.sourceID, studies: [...studies.values()], patients: searchedPatients(action) });
    try {
      await options.log.append(record);
    } catch (error) {
      options.errors('error', 'the audit record of a request could not be written; the request is answered 503', { auditRecord: record, error: String(error) });
      await c.res.body?.cancel().catch(() => undefined);
      c.res = undefined; // so that none of the withheld answer's headers carry over
      c.res = new Response(problemBody(503, 'the access could not be recorded in the audit trail, so it is not answered; a store or delete already made stays made; try again later'), {
        status: 503,
        headers: { 'Content-Type': 'application/json', 'Retry-After': String(RETRY_AFTER_SECONDS) },
      });
    }
  };
}

/** A search by Patient ID (QIDO-RS) is an access to that patient's records. */
function searchedPatients(action: AuditedAction): Array<{ patientID: string }> {
  if (!action.query) return [];
  const params = new URLSearchParams(action.query.text);
  const patientID = params.get('PatientID') ?? params.get('00100020');
  // One patient, named: a wildcard or a list is a search across patients.
  return patientID && !/[*?,\\]/.test(patientID) ? [{ patientID }] : [];
}

/** The reason a refused request gives (the archive's problem JSON), for EventOutcomeDescription. */
async function outcomeText(res: Response): Promise<string | undefined> {
  if (res.status < 400 || !/json/i.test(res.headers.get('content-type') ?? '')) return undefined;
  try {
    const body = JSON.parse(await res.clone().text()) as { error?: unknown };
    return typeof body.error === 'string' ? body.error.slice(0, 1000) : undefined;
  } catch {
    return undefined;
  }
}

/** PS3.15 A.5.1 EventOutcomeIndicator from an HTTP status: a partial store (202) is a minor failure. */
const outcomeOf = (status: number): 0 | 4 | 8 => (status >= 500 ? 8 : status >= 400 || status === 202 ? 4 : 0);

export interface AuditOutcome {
  indicator: 0 | 4 | 8 | 12;
  description: string;
}

export function auditRecord(input: {
  action: AuditedAction;
  at: Date;
  outcome: AuditOutcome;
  requester: Requester;
  sourceID: string;
  studies: AuditedStudy[];
  /** Patients acted on apart from the studies' (a search by Patient ID). */
  patients?: Array<{ patientID: string; patientName?: string }>;
  /** Other parties beside the requester and the archive (a C-MOVE's destination). */
  participants?: AuditParticipant[];
}): AuditRecord {
  const { action, requester } = input;
  const objects: AuditObject[] = [];
  const patients = new Map<string, string | undefined>();
  for (const study of input.studies) {
    objects.push({
      ParticipantObjectTypeCode: 2,
      ParticipantObjectTypeCodeRole: 3,
      ParticipantObjectIDTypeCode: AuditObjectType.StudyInstanceUID,
      ParticipantObjectID: study.studyInstanceUID,
      ...(action.description ? { ParticipantObjectDescription: action.description } : {}),
    });
    if (study.patientID) patients.set(study.patientID, study.patientName);
  }
  if (action.query) {
    objects.push({
      ParticipantObjectTypeCode: 2,
      ParticipantObjectTypeCodeRole: 24,
      ParticipantObjectIDTypeCode: AuditObjectType.SOPClassUID,
      ParticipantObjectID: action.query.sopClassUID,
      ParticipantObjectQuery: action.query.text,
    });
  }
  for (const p of input.patients ?? []) if (!patients.has(p.patientID)) patients.set(p.patientID, p.patientName);
  for (const [id, name] of patients) {
    objects.push({ ParticipantObjectTypeCode: 1, ParticipantObjectTypeCodeRole: 1, ParticipantObjectIDTypeCode: AuditObjectType.PatientNumber, ParticipantObjectID: id, ...(name ? { ParticipantObjectName: name } : {}) });
  }
  objects.push(...(action.objects ?? []));
  const archiveRole = action.archiveRole ?? (action.requesterRole === AuditRole.Source ? AuditRole.Destination : action.requesterRole === AuditRole.Destination ? AuditRole.Source : AuditRole.Application);
  return {
    id: randomUUID(),
    EventIdentification: {
      EventID: action.event,
      EventActionCode: action.action,
      EventDateTime: input.at.toISOString(),
      EventOutcomeIndicator: input.outcome.indicator,
      EventOutcomeDescription: input.outcome.description,
    },
    ActiveParticipant: [
      {
        UserID: requester.userID,
        ...(requester.alternativeUserID ? { AlternativeUserID: requester.alternativeUserID } : {}),
        ...(requester.userName ? { UserName: requester.userName } : {}),
        UserIsRequestor: true,
        ...(action.requesterRole ? { RoleIDCode: action.requesterRole } : {}),
        ...(requester.address ? { NetworkAccessPointTypeCode: 2 as const, NetworkAccessPointID: requester.address } : {}),
        ...(requester.forwardedFor ? { ForwardedFor: requester.forwardedFor } : {}),
      },
      { UserID: input.sourceID, UserIsRequestor: false, RoleIDCode: archiveRole },
      ...(input.participants ?? []),
    ],
    // 4: application server process tier (PS3.15 A.5.1, RFC 3881 audit source types).
    AuditSourceIdentification: { AuditSourceID: input.sourceID, AuditSourceTypeCode: '4' },
    ParticipantObjectIdentification: objects,
  };
}

/** An application behind the audit trail, and behind the runtime's own checks after it (so that refusals are recorded). */
export function audited(inner: Hono, options: HttpAuditOptions, guards: MiddlewareHandler[] = []): Hono {
  const app = new Hono();
  app.use('*', httpAudit(options));
  for (const guard of guards) app.use('*', guard);
  return app.route('/', inner);
}
