// DIMSE status codes the archive answers with (PS3.7 Annex C, PS3.4 B.2.3 and C.4) and the Error Comment
// that says why in words.

export const DimseStatus = {
  Success: 0x0000,
  Pending: 0xff00,
  Cancel: 0xfe00,
  ProcessingFailure: 0x0110,
  MissingAttribute: 0x0120,
  SOPClassNotSupported: 0x0122,
  NoSuchActionType: 0x0123,
  /** C-STORE, C-FIND, C-GET: Refused, Out of Resources. */
  OutOfResources: 0xa700,
  /** C-MOVE, C-GET: Refused, Out of Resources – Unable to perform sub-operations. */
  SubOperationsOutOfResources: 0xa702,
  MoveDestinationUnknown: 0xa801,
  IdentifierDoesNotMatchSOPClass: 0xa900,
  UnableToProcess: 0xc000,
  /** C-MOVE, C-GET: Warning, sub-operations complete with one or more failures or warnings. */
  SubOperationsWithFailures: 0xb000,
} as const;

export interface DimseOutcome {
  status: number;
  comment?: string;
}

/** Error Comment (0000,0902) is LO: 64 characters of the default repertoire. */
export function errorComment(text: string): string {
  // eslint-disable-next-line no-control-regex
  const ascii = text.replace(/[^\x20-\x7e]/g, '?').replace(/\\/g, '/');
  return ascii.length <= 64 ? ascii : `${ascii.slice(0, 61)}...`;
}
