import Database from 'better-sqlite3';

/**
 * Holds the write lock of an SQLite file from another connection, as a backup or a stuck disk
 * would, until the returned function releases it: the store's commits wait meanwhile.
 */
export function holdWriteLock(file: string): () => void {
  const other = new Database(file);
  other.exec('BEGIN IMMEDIATE');
  return () => {
    other.exec('COMMIT');
    other.close();
  };
}
