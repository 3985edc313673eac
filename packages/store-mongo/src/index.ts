/**
 * `@durable-rx/store-mongo`: the durable-rx Store on MongoDB — transactions and leases so many Node processes share
 * the work, change streams so status is pushed, never polled.
 *
 * @example
 * ```ts
 * import { createRuntime } from '@durable-rx/runtime';
 * import { MongoStore } from '@durable-rx/store-mongo';
 *
 * const store = await MongoStore.connect({ uri: 'mongodb://127.0.0.1:27017/app?replicaSet=rs0' });
 * const runtime = createRuntime({ store, orchestrators, activities });
 * await runtime.start();
 * ```
 *
 * @packageDocumentation
 */
export { MongoStore } from './mongo-store.js';
export type { MongoStoreClientOptions, MongoStoreCommonOptions, MongoStoreOptions, MongoStoreUriOptions } from './mongo-store-options.js';
export { MAX_PAYLOAD_BYTES } from './payload-codec.js';
export type { ClockSkew } from './clock-skew.js';
export { collectionNames, INDEXES, OBSOLETE_INDEXES, type CollectionNames } from './indexes.js';
export type { ResumePolicy } from './resume-policy.js';
export { missingPrivileges, requiredPrivileges, type Privilege, type PrivilegeResource } from './privileges.js';
export { MongoStoreError } from './errors/mongo-store-error.js';
export { CommitOutcomeUnknownError } from './errors/commit-outcome-unknown-error.js';
export { StoreUnreachableError } from './errors/store-unreachable-error.js';
export { StoreAuthenticationError } from './errors/store-authentication-error.js';
export { ReplicaSetRequiredError } from './errors/replica-set-required-error.js';
export { StoreCacheFullError } from './errors/store-cache-full-error.js';
export { IndexBuildTimeoutError } from './errors/index-build-timeout-error.js';
