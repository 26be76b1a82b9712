// DELETE of a study, series or instance (PS3.18 Section 10.4 "Delete" in recent editions, and the
// de-facto API of other archives). The index entry goes first — the commit point — then the files;
// a crash in between leaves only unreferenced files, which the next start sweeps away.
import type { ArchiveStorage, ReferenceScope } from '../../storage/ports.js';
import { HttpProblem } from '../http/problem.js';
import { removeIfUnreferenced } from '../store/blob-lifecycle.js';

export async function deleteScope(storage: ArchiveStorage, scope: ReferenceScope): Promise<Response> {
  const blobKeys = await storage.index.deleteInstances(scope);
  if (blobKeys.length === 0) {
    const what = scope.sopInstanceUID ? `instance ${scope.sopInstanceUID}` : scope.seriesInstanceUID ? `series ${scope.seriesInstanceUID}` : `study ${scope.studyInstanceUID}`;
    throw new HttpProblem(404, `no ${what} is stored under study ${scope.studyInstanceUID}`);
  }
  await Promise.all(blobKeys.map((key) => removeIfUnreferenced(storage, key)));
  await storage.events.publish([{ type: 'InstancesDeleted', ...scope, at: new Date().toISOString() }]);
  return new Response(null, { status: 204 });
}
