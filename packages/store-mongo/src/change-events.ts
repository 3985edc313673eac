import type { StatusChange } from '@durable-rx/runtime';
import type { Document } from 'mongodb';
import { decodeInstanceState } from './documents.js';
import { MongoStoreError } from './errors/mongo-store-error.js';
import type { CollectionNames } from './indexes.js';
import { instanceIdOfKey } from './instance-key.js';

/**
 * Change-stream pipelines and the pure mapping from change events to what the store's observables emit.
 *
 * Why the snapshot is complete: MongoStore writes a status change only by inserting or replacing the instance
 * document, or by an update that `$set`s its `state` field, inside the commit's transaction. An insert or replace
 * event carries the document that very operation wrote (`fullDocument`, from the oplog entry), and an update event
 * carries the new value of every field it set (`updateDescription.updatedFields`); so each event carries the snapshot
 * it committed — unlike `fullDocument: 'updateLookup'`, which reads the document when the event is sent and can skip
 * intermediate states. Bookkeeping updates (leases, queue heads) leave `state` alone and the status pipeline leaves
 * them out; no pre/post-image configuration of the collection is needed.
 */

/** The part of a change event the store reads. */
export type ChangeEventLike = {
  /** The resume token. */
  readonly _id: unknown;
  readonly operationType: string;
  readonly documentKey?: { readonly _id?: unknown };
  readonly fullDocument?: { readonly state?: unknown };
  readonly updateDescription?: { readonly updatedFields?: { readonly state?: unknown } };
  readonly ns?: { readonly coll?: string };
};

/**
 * The pipeline of the status feed (on the instances collection): inserts, replaces, deletes and updates that set a
 * new snapshot, projected to the snapshot text and the key; invalidations pass so the feed can restart after them.
 */
export function statusPipeline(): Document[] {
  return [
    {
      $match: {
        $or: [
          { operationType: { $in: ['insert', 'replace', 'delete', 'invalidate'] } },
          { operationType: 'update', 'updateDescription.updatedFields.state': { $exists: true } },
        ],
      },
    },
    { $project: { operationType: 1, documentKey: 1, 'fullDocument.state': 1, 'updateDescription.updatedFields.state': 1 } },
  ];
}

/**
 * The pipeline of the wake-up feed (on the database): new messages and activity tasks, activity leases released
 * without a completion, and instances whose lease was released with visible messages left (an abandon, or a commit
 * that leaves messages behind: both set a fresh `handoff`), so that any process's worker takes them at once. A commit
 * that leaves nothing claimable wakes nobody.
 */
export function wakePipeline(names: CollectionNames): Document[] {
  return [
    {
      $match: {
        $or: [
          { operationType: 'insert', 'ns.coll': { $in: [names.messages, names.activityTasks] } },
          { operationType: 'update', 'ns.coll': names.activityTasks, 'updateDescription.updatedFields.leaseToken': { $type: 'null' } },
          { operationType: 'update', 'ns.coll': names.instances, 'updateDescription.updatedFields.handoff': { $exists: true } },
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
 * Maps a status-feed event to the committed change it describes: the decoded snapshot for an insert, replace or
 * state update, `state: undefined` for a delete (a purge); `undefined` for events that are not status changes.
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
    case 'update': {
      const text = event.updateDescription?.updatedFields?.state;
      if (typeof text !== 'string') return undefined; // bookkeeping only (the pipeline normally leaves these out)
      const state = decodeInstanceState(text);
      return { instanceId: state.instanceId, state };
    }
    case 'delete': {
      const key = event.documentKey?._id;
      if (typeof key !== 'string') throw new MongoStoreError('A delete event of the instances collection has no instance id');
      return { instanceId: instanceIdOfKey(key), state: undefined };
    }
    default:
      return undefined;
  }
}
