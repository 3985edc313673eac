// Node has no IndexedDB: fake-indexeddb provides the globals (`indexedDB`, `IDBKeyRange`, ...) before any store loads.
import 'fake-indexeddb/auto';
