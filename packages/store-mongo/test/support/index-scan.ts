import type { Document } from 'mongodb';

/**
 * How MongoDB serves a query of the simple shapes MongoStore sends (a conjunction of equalities and `$gt/$gte/$lt/$lte`
 * ranges, `$type` conditions, a sort) from one index, read off the shapes alone, so unit tests can check index use
 * without a server: the bounds of the index scan on the index's leading field, whether the sort comes from the index
 * order, and where a `$type` condition is checked (on the keys, or on the fetched documents: it never bounds the scan
 * here). Throws when the index cannot serve the query (an equality or range on a field missing from the key, an
 * unconstrained leading field other than in an ordered scan without a filter, an operator this model does not know).
 * The integration tests check the same queries with `explain()`.
 */
export interface IndexScan {
  /** The range of the leading index field the scan visits (inclusive flags), `undefined` ends: open. */
  readonly lower: { readonly value: unknown; readonly inclusive: boolean } | undefined;
  readonly upper: { readonly value: unknown; readonly inclusive: boolean } | undefined;
  /** True when the sort follows the index order after its equality prefix: no in-memory sort. */
  readonly sortFromIndex: boolean;
  /**
   * How many leading index fields are constrained to points (an equality, or `$in`): when it is the whole key, the
   * scan visits one key per point and nothing else.
   */
  readonly pointPrefix: number;
  /**
   * The fields whose `$type` condition the server checks on the keys the scan visits (the field is in the index key,
   * not its leading field: no document fetched for it), and those it checks on the document it fetches (not in the key).
   */
  readonly typeChecked: { readonly onKeys: readonly string[]; readonly onDocuments: readonly string[] };
}

export function indexScan(key: Readonly<Record<string, 1 | -1>>, filter: Document, sort: Readonly<Record<string, 1 | -1>> = {}): IndexScan {
  const fields = Object.keys(key);
  const predicates = new Map<string, Document | { $eq: unknown }>();
  const typeChecked = { onKeys: [] as string[], onDocuments: [] as string[] };
  for (const [field, condition] of Object.entries(filter)) {
    if (field.startsWith('$')) throw new Error(`operator ${field} is outside the model`);
    if (isTypeOnly(condition)) {
      // Bounds of its type on a later field of the key (checked on each key), or a filter on the fetched document.
      if (field === fields[0]) throw new Error(`$type on the leading field ${field} is outside the model`);
      (fields.includes(field) ? typeChecked.onKeys : typeChecked.onDocuments).push(field);
      continue;
    }
    if (!fields.includes(field)) throw new Error(`${field} is not in the index ${JSON.stringify(key)}`);
    const isOps = typeof condition === 'object' && condition !== null && !(condition instanceof Date) &&
      Object.keys(condition as object).every((k) => k.startsWith('$'));
    if (isOps) {
      for (const op of Object.keys(condition as object)) if (!['$gt', '$gte', '$lt', '$lte', '$eq', '$in'].includes(op)) throw new Error(`${op} is outside the model`);
      if ('$in' in (condition as object) && Object.keys(condition as object).length > 1) throw new Error('$in with other operators is outside the model');
      predicates.set(field, condition as Document);
    } else {
      predicates.set(field, { $eq: condition });
    }
  }
  const lead = predicates.get(fields[0]!);
  // An unconstrained leading field is served only as an ordered scan from its first key (a `findOne` reads one key).
  if (!lead && Object.keys(sort)[0] === fields[0] && predicates.size === 0) {
    return { lower: undefined, upper: undefined, sortFromIndex: true, pointPrefix: 0, typeChecked };
  }
  if (!lead) throw new Error(`the leading field ${fields[0]} is not constrained: the scan visits the whole index`);
  let equalityPrefix = 0;
  while (equalityPrefix < fields.length && predicates.get(fields[equalityPrefix]!)?.['$eq'] !== undefined) equalityPrefix++;
  let pointPrefix = 0;
  while (pointPrefix < fields.length && isPoints(predicates.get(fields[pointPrefix]!))) pointPrefix++;
  const rest = fields.slice(equalityPrefix);
  const sortFields = Object.keys(sort).filter((f) => !fields.slice(0, equalityPrefix).includes(f));
  const sortFromIndex = sortFields.every((f, i) => rest[i] === f && sort[f] === key[f]);
  if ('$in' in lead) throw new Error('$in on the leading field is outside the model');
  if ('$eq' in lead) return { lower: { value: lead['$eq'], inclusive: true }, upper: { value: lead['$eq'], inclusive: true }, sortFromIndex, pointPrefix, typeChecked };
  const lower = lead['$gte'] !== undefined ? { value: lead['$gte'], inclusive: true } : lead['$gt'] !== undefined ? { value: lead['$gt'], inclusive: false } : undefined;
  const upper = lead['$lte'] !== undefined ? { value: lead['$lte'], inclusive: true } : lead['$lt'] !== undefined ? { value: lead['$lt'], inclusive: false } : undefined;
  return { lower, upper, sortFromIndex, pointPrefix, typeChecked };
}

function isTypeOnly(condition: unknown): boolean {
  return typeof condition === 'object' && condition !== null && !(condition instanceof Date) && Object.keys(condition).length === 1 && '$type' in condition;
}

function isPoints(predicate: Document | undefined): boolean {
  return predicate !== undefined && (predicate['$eq'] !== undefined || Array.isArray(predicate['$in']));
}

/** True when a value of the leading field lies inside the scan's bounds (Dates and numbers). */
export function inScan(scan: IndexScan, value: Date | number): boolean {
  const v = +value;
  if (scan.lower && (scan.lower.inclusive ? v < +(scan.lower.value as Date) : v <= +(scan.lower.value as Date))) return false;
  if (scan.upper && (scan.upper.inclusive ? v > +(scan.upper.value as Date) : v >= +(scan.upper.value as Date))) return false;
  return true;
}
