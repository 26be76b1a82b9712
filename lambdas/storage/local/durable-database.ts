// SQLite databases shared safely by the processes of one data directory (busy_timeout): either every
// commit on disk before it returns (WAL, synchronous=FULL: the AI pipeline's state and queues, the UPS
// workitems), or commits made durable by the caller with a group fsync of the WAL (the index, the audit
// trail).
import Database from 'better-sqlite3';
import { GroupFsync } from './group-fsync.js';

export function openDurableDatabase(file: string, schema: string): Database.Database {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('busy_timeout = 5000');
  db.exec(schema);
  return db;
}

/**
 * A database whose commits the caller makes durable, concurrent writers sharing one fsync (the index,
 * the audit trail): WAL with synchronous=NORMAL, so that SQLite never fsyncs at commit (which would block
 * the event loop); await `walSync.sync()` before answering.
 */
export function openGroupSyncedDatabase(file: string, schema: string): { db: Database.Database; walSync: GroupFsync } {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('busy_timeout = 5000');
  db.exec(schema);
  return { db, walSync: new GroupFsync(`${file}-wal`) };
}
