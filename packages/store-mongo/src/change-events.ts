import type { StatusChange } from '@durable-rx/runtime';
import type { Document } from 'mongodb';
import { decodeInstanceState } from './documents.js';
import { MongoStoreError } from './errors/mongo-store-error.js';
import type { CollectionNames } from './indexes.js';

/**
 * Change-stream pipelines and the pure mapping from change events to what the store's observables emit.
 *
 * Why the snapshot is complete: MongoStore writes a status change only by inserting or *replacing* the whole
 * instance document inside the commit's transaction. For insert and replace events the server puts the document
 * written by that very operation into `fullDocument` (from the oplog entry), so each event carries the snapshot it
 * committed — unlike `fullDocument: 'updateLookup'`, which reads the document when the event is sent and can skip
 * intermediate states. Bookkeeping (leases, queue heads) is written with `$set`/`$inc` updates, which the status
 * pipeline leaves out; no pre/post-image configuration of the collection is needed.
 */

/** The part of a change event the store reads. */
export type ChangeEventLike = {
  /** The resume token. */
  readonly _id: unknown;
  readonly operationType: string;
  readonly documentKey?: { readonly _id?: unknown };
  readonly fullDocument?: { readonly state?: unknown };
  readonly ns?: { readonly coll?: string };
};

/**
 * The pipeline of the status feed (on the instances collection): inserts, replaces and deletes, projected to the
 * snapshot text and the key; invalidations pass so the feed can restart after them.
 */
export function statusPipeline(): Document[] {
  return [
    { $match: { operationType: { $in: ['insert', 'replace', 'delete', 'invalidate'] } } },
    { $project: { operationType: 1, documentKey: 1, 'fullDocument.state': 1 } },
  ];
}

/**
 * The pipeline of the wake-up feed (on the database): new messages and activity tasks, and leases released without
 * a commit (`abandon*`). A commit that leaves messages behind wakes the committing process's own worker directly.
 */
export function wakePipeline(names: CollectionNames): Document[] {
  return [
    {
      $match: {
        $or: [
          { operationType: 'insert', 'ns.coll': { $in: [names.messages, names.activityTasks] } },
          {
            operationType: 'update', 'ns.coll': { $in: [names.instances, names.activityTasks] },
            'updateDescription.updatedFields.leaseToken': { $type: 'null' },
          },
          { operationType: 'invalidate' },
        ],
      },
    },
    { $project: { operationType: 1, 'ns.coll': 1 } },
  ];
}

/** True for the event after which the server closes a change stream (collection or database dropped or renamed). */
export function isInvalidation(event: ChangeEventLike): boolean {
  return event.operationType === 'invalidate';
}

/**
 * Maps a status-feed event to the committed change it describes: the decoded snapshot for an insert or replace,
 * `state: undefined` for a delete (a purge); `undefined` for events that are not status changes.
 * Throws `MongoStoreError` for an insert/replace without a snapshot (a document MongoStore did not write).
 *
 * @example
 * ```ts
 * toStatusChange({ _id: token, operationType: 'delete', documentKey: { _id: 'a' } }); // { instanceId: 'a', state: undefined }
 * ```
 */
export function toStatusChange(event: ChangeEventLike): StatusChange | undefined {
  switch (event.operationType) {
    case 'insert':
    case 'replace': {
      const text = event.fullDocument?.state;
      if (typeof text !== 'string') {
        throw new MongoStoreError(`A ${event.operationType} event of the instances collection carries no status snapshot`);
      }
      const state = decodeInstanceState(text);
      return { instanceId: state.instanceId, state };
    }
    case 'delete': {
      const id = event.documentKey?._id;
      if (typeof id !== 'string') throw new MongoStoreError('A delete event of the instances collection has no instance id');
      return { instanceId: id, state: undefined };
    }
    default:
      return undefined;
  }
}
