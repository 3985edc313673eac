import { Dexie } from 'dexie';

// Dexie turns on its debug mode for pages on localhost, which console.traces every failed request, including the
// ones the tests cause on purpose (a value IndexedDB cannot clone). The stores themselves never log.
Dexie.debug = false;
