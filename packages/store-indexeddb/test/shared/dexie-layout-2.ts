/**
 * The tables of DexieStore's layouts 1 and 2 (Dexie version 1), which layout 3 upgrades by adding an index: what a
 * test declares to write a database as layout 2 left it. A module of its own (no test framework imported), so that
 * the e2e page can bundle it as the browser tests import it.
 */
export const DEXIE_LAYOUT_2 = {
  meta: 'key',
  instances: 'id, [readyMs+headSeq], [createdMs+id], [status+createdMs+id]',
  history: '[instanceId+seq]',
  messages: '++seq, [instanceId+seq]',
  tasks: '++seq, &id, [readyMs+seq], instanceId',
};
