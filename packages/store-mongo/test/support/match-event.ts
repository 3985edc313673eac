import type { Document } from 'mongodb';

/**
 * Whether a change event passes a `$match` stage of the simple shapes MongoStore's change-stream pipelines use
 * (`$or`, `$and`, equality (`null` matching a missing field too), `$in`, `$type: 'null' | 'string'`, `$exists`, `$gt`, `$lt` on dotted paths), so unit tests can check which
 * events a pipeline lets through without a server. Throws on an operator it does not model. The integration tests
 * check the same pipelines against a server.
 */
export function matchesEvent(match: Document, event: Document): boolean {
  return Object.entries(match).every(([key, condition]) => {
    if (key === '$or') return (condition as Document[]).some((branch) => matchesEvent(branch, event));
    if (key === '$and') return (condition as Document[]).every((clause) => matchesEvent(clause, event));
    if (key.startsWith('$')) throw new Error(`operator ${key} is outside the model`);
    const value = key.split('.').reduce<unknown>((at, part) => (at as Record<string, unknown> | undefined)?.[part], event);
    if (condition === null) return value === null || value === undefined; // MongoDB's null equality: null or missing
    const isOps = typeof condition === 'object' && condition !== null && !(condition instanceof Date) && !Array.isArray(condition) &&
      Object.keys(condition).every((k) => k.startsWith('$'));
    if (!isOps) return value === condition || (value instanceof Date && condition instanceof Date && +value === +condition);
    return Object.entries(condition as Document).every(([op, arg]) => {
      switch (op) {
        case '$in':
          return (arg as unknown[]).includes(value);
        case '$type':
          if (arg === 'string') return typeof value === 'string';
          if (arg !== 'null') throw new Error(`$type ${String(arg)} is outside the model`);
          return value === null;
        case '$exists':
          return (value !== undefined) === arg;
        case '$gt':
          return value instanceof Date && +value > +(arg as Date);
        case '$lt':
          return value instanceof Date && +value < +(arg as Date);
        default:
          throw new Error(`${op} is outside the model`);
      }
    });
  });
}
