// A SQLite database whose every commit is on disk before it returns (WAL, synchronous=FULL), shared
// safely by the processes of one data directory (busy_timeout): the AI pipeline's state and queues and
// the UPS workitems. The index syncs its WAL itself (sqlite-index.ts).
import Database from 'better-sqlite3';

export function openDurableDatabase(file: string, schema: string): Database.Database {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('busy_timeout = 5000');
  db.exec(schema);
  return db;
}
