// This implementation's identity in the File Meta Information of files it writes (PS3.10 7.1).
// Kept apart from the writers so that code naming it does not pull in their encoders.

/** A 2.25 UUID-derived UID. */
export const IMPLEMENTATION_CLASS_UID = '2.25.80302813137786398554742050926734630921';
export const IMPLEMENTATION_VERSION_NAME = 'SERVERLESSPACS1';
