/**
 * The writer thread of the embedded store (started by sqlite-writer.ts): its own connection
 * to the store's file, the crew log's appends and delivery marks, one request at a time in
 * the order they came. It commits (and fsyncs) while the relay's event loop goes on.
 */
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { configureConnection, type SqliteOptions } from './sqlite.js';
import { SqliteAppender } from './sqlite-append.js';
import { serializeWriterError, type WriterReply, type WriterRequest } from './sqlite-writer-messages.js';

const { file, options } = workerData as { file: string; options: SqliteOptions };
const port = parentPort!;

function open(): { db: Database.Database; appender: SqliteAppender } | null {
  try {
    const db = new Database(file, { fileMustExist: true });
    configureConnection(db, options);
    return { db, appender: new SqliteAppender(db) };
  } catch (error) {
    port.postMessage({ id: -1, error: serializeWriterError(error) } satisfies WriterReply);
    return null;
  }
}

function handle(appender: SqliteAppender, request: Exclude<WriterRequest, { op: 'close' }>): WriterReply {
  try {
    if (request.op === 'append' && !request.each) return { id: request.id, results: appender.append(request.batch, request.at) };
    if (request.op === 'append') {
      const results = appender.appendEach(request.batch, request.at).map((r) => (r instanceof Error ? { error: serializeWriterError(r) } : r));
      return { id: request.id, results };
    }
    if (request.op === 'mark') appender.markDelivered(request.marks);
    else appender.probe(request.at);
    return { id: request.id };
  } catch (error) {
    return { id: request.id, error: serializeWriterError(error) };
  }
}

const connection = open();
if (connection) {
  port.on('message', (request: WriterRequest) => {
    if (request.op !== 'close') return port.postMessage(handle(connection.appender, request));
    connection.db.close();
    port.close();
  });
} else {
  port.close();
}
