import type { Document } from 'mongodb';

/**
 * How MongoDB serves a query of the simple shapes MongoStore sends (a conjunction of equalities, `$in` and
 * `$gt/$gte/$lt/$lte` ranges (with a `$ne` excluding one value of a range: it never widens the bounds), `$all` on a multikey field
 * (bounded by its first element, the others checked on the document), an anchored literal `$regex` (a prefix: `^` and escaped text only, which the server scans as
 * the range of strings that start with it), `$type` conditions, possibly as an `$and` of such clauses, a sort) from one index, read
 * off the shapes alone, so unit tests can check index use without a server: the bounds of the index scan on the index's
 * leading field, whether the sort comes from the index order, and which fields need the document fetched on every
 * supported server (MongoDB 4.4 on). Throws when the index cannot serve the query (an equality or range on a field
 * missing from the key, an unconstrained leading field other than in an ordered scan without a filter, an operator
 * this model does not know). The integration tests check the same queries with `explain()`.
 */
export interface IndexScan {
  /** The range of the leading index field the scan visits (inclusive flags), `undefined` ends: open. */
  readonly lower: { readonly value: unknown; readonly inclusive: boolean } | undefined;
  readonly upper: { readonly value: unknown; readonly inclusive: boolean } | undefined;
  /** True when the sort follows the index order (or its reverse: a backward scan) after its equality prefix: no in-memory sort. */
  readonly sortFromIndex: boolean;
  /**
   * True when the sort follows the index order after its prefix of points (equalities and `$in`): the server merges the
   * ordered scans of its points (a SORT_MERGE, "explode for sort"), no in-memory sort. Implied by `sortFromIndex`.
   */
  readonly sortByMerge: boolean;
  /**
   * How many leading index fields are constrained to points (an equality, or `$in`): when it is the whole key, the
   * scan visits one key per point and nothing else.
   */
  readonly pointPrefix: number;
  /**
   * The fields with a `$type` condition. The server checks them on the document it fetches for each key whether or not
   * the index holds the field: MongoDB 4.4 builds the bounds of a `$type` as INEXACT_FETCH unless the type is number
   * (later versions check a string `$type` on the key when the index holds the field). A scan with one is never an
   * index-only read on every supported server: it reads a document per key it visits.
   */
  readonly fetchedFor: readonly string[];
  /** For an anchored literal `$regex` on the leading field: the prefix whose strings the scan visits (and no others). */
  readonly prefix?: string;
}

/**
 * `fetched` names fields outside the key whose conditions the caller means the server to check on each fetched
 * document (a query pinned by a hint to an index that lacks them): they are listed in `fetchedFor` and bound nothing.
 * Any other condition on a field outside the key throws.
 */
export function indexScan(
  key: Readonly<Record<string, 1 | -1>>, filter: Document, sort: Readonly<Record<string, 1 | -1>> = {}, fetched: readonly string[] = [],
): IndexScan {
  const fields = Object.keys(key);
  const predicates = new Map<string, Document | { $eq: unknown }>();
  const fetchedFor: string[] = [];
  for (const [field, condition] of conjuncts(filter)) {
    if (field === '$or') {
      // Checked on each key the scan visits (or on each fetched document): it bounds nothing in this model.
      for (const branch of condition as Document[]) {
        for (const [inner] of conjuncts(branch)) {
          if (inner.startsWith('$')) throw new Error(`operator ${inner} inside $or is outside the model`);
          if (fields.includes(inner)) continue;
          if (!fetched.includes(inner)) throw new Error(`${inner} (in $or) is not in the index ${JSON.stringify(key)}`);
          if (!fetchedFor.includes(inner)) fetchedFor.push(inner);
        }
      }
      continue;
    }
    if (field.startsWith('$')) throw new Error(`operator ${field} is outside the model`);
    if (fetched.includes(field) && !fields.includes(field)) {
      fetchedFor.push(field);
      continue;
    }
    if (isTypeOnly(condition)) {
      // On the leading field: the range of that type's keys (unbounded here), each document fetched to check it.
      if (field === fields[0]) predicates.set(field, { $typeRange: (condition as { $type: unknown }).$type });
      fetchedFor.push(field);
      continue;
    }
    if (predicates.has(field)) {
      // Two ranges of one field (a created-time filter and a page's lower bound): their intersection.
      const merged = intersectRanges(predicates.get(field)!, condition);
      if (!merged) throw new Error(`two conditions on ${field} are outside the model`);
      predicates.set(field, merged);
      continue;
    }
    if (!fields.includes(field)) throw new Error(`${field} is not in the index ${JSON.stringify(key)}`);
    const isOps = typeof condition === 'object' && condition !== null && !(condition instanceof Date) &&
      Object.keys(condition as object).every((k) => k.startsWith('$'));
    if (isOps && '$all' in (condition as object)) {
      // A multikey field: the server bounds the scan by one element of `$all` (the first) and checks the others on
      // each fetched document.
      const all = (condition as { $all: unknown }).$all;
      if (Object.keys(condition as object).length > 1 || !Array.isArray(all) || all.length === 0) throw new Error('$all with other operators, or empty, is outside the model');
      predicates.set(field, { $eq: all[0] });
      if (all.length > 1 && !fetchedFor.includes(field)) fetchedFor.push(field);
    } else if (isOps && '$regex' in (condition as object)) {
      if (Object.keys(condition as object).length > 1) throw new Error('$regex with other operators or $options is outside the model');
      predicates.set(field, { $prefix: literalPrefix((condition as { $regex: unknown }).$regex) });
    } else if (isOps) {
      for (const op of Object.keys(condition as object)) if (!['$gt', '$gte', '$lt', '$lte', '$ne', '$eq', '$in'].includes(op)) throw new Error(`${op} is outside the model`);
      if ('$in' in (condition as object) && Object.keys(condition as object).length > 1) throw new Error('$in with other operators is outside the model');
      predicates.set(field, condition as Document);
    } else {
      predicates.set(field, { $eq: condition });
    }
  }
  const lead = predicates.get(fields[0]!);
  // An unconstrained leading field is served only as an ordered scan from its first key (a `findOne` reads one key).
  if (!lead && Object.keys(sort)[0] === fields[0] && predicates.size === 0) {
    const sortFromIndex = follows(Object.keys(sort), fields, sort, key);
    return { lower: undefined, upper: undefined, sortFromIndex, sortByMerge: sortFromIndex, pointPrefix: 0, fetchedFor };
  }
  if (!lead) throw new Error(`the leading field ${fields[0]} is not constrained: the scan visits the whole index`);
  let equalityPrefix = 0;
  while (equalityPrefix < fields.length && predicates.get(fields[equalityPrefix]!)?.['$eq'] !== undefined) equalityPrefix++;
  let pointPrefix = 0;
  while (pointPrefix < fields.length && isPoints(predicates.get(fields[pointPrefix]!))) pointPrefix++;
  const rest = fields.slice(equalityPrefix);
  const sortFields = Object.keys(sort).filter((f) => !fields.slice(0, equalityPrefix).includes(f));
  const sortFromIndex = follows(sortFields, rest, sort, key);
  const sortByMerge = sortFromIndex || follows(Object.keys(sort).filter((f) => !fields.slice(0, pointPrefix).includes(f)), fields.slice(pointPrefix), sort, key);
  // Points on the leading field: one range per point, not one range (the sort is checked after the equality prefix).
  if ('$in' in lead) return { lower: undefined, upper: undefined, sortFromIndex: false, sortByMerge, pointPrefix, fetchedFor };
  if ('$typeRange' in lead) return { lower: undefined, upper: undefined, sortFromIndex, sortByMerge, pointPrefix, fetchedFor };
  if ('$prefix' in lead) {
    const prefix = lead['$prefix'] as string;
    return { lower: { value: prefix, inclusive: true }, upper: undefined, sortFromIndex, sortByMerge, pointPrefix, fetchedFor, prefix };
  }
  if ('$eq' in lead) return { lower: { value: lead['$eq'], inclusive: true }, upper: { value: lead['$eq'], inclusive: true }, sortFromIndex, sortByMerge, pointPrefix, fetchedFor };
  const lower = lead['$gte'] !== undefined ? { value: lead['$gte'], inclusive: true } : lead['$gt'] !== undefined ? { value: lead['$gt'], inclusive: false } : undefined;
  const upper = lead['$lte'] !== undefined ? { value: lead['$lte'], inclusive: true } : lead['$lt'] !== undefined ? { value: lead['$lt'], inclusive: false } : undefined;
  return { lower, upper, sortFromIndex, sortByMerge, pointPrefix, fetchedFor };
}

const RANGE_OPS = ['$gt', '$gte', '$lt', '$lte'];

/** The intersection of two conditions of ranges alone (`$gt`/`$gte`/`$lt`/`$lte` on Dates or numbers), else `undefined`. */
function intersectRanges(a: Document, b: unknown): Document | undefined {
  const isRange = (c: unknown): c is Document =>
    typeof c === 'object' && c !== null && !(c instanceof Date) && Object.keys(c).length > 0 && Object.keys(c).every((k) => RANGE_OPS.includes(k));
  if (!isRange(a) || !isRange(b)) return undefined;
  const lower = (c: Document) => (c['$gt'] !== undefined ? { v: +c['$gt'], op: '$gt', value: c['$gt'] } : c['$gte'] !== undefined ? { v: +c['$gte'], op: '$gte', value: c['$gte'] } : undefined);
  const upper = (c: Document) => (c['$lt'] !== undefined ? { v: +c['$lt'], op: '$lt', value: c['$lt'] } : c['$lte'] !== undefined ? { v: +c['$lte'], op: '$lte', value: c['$lte'] } : undefined);
  const pick = (x: ReturnType<typeof lower>, y: ReturnType<typeof lower>, tighter: (p: number, q: number) => boolean) =>
    !x ? y : !y ? x : tighter(x.v, y.v) || (x.v === y.v && (x.op === '$gt' || x.op === '$lt')) ? x : y;
  const lo = pick(lower(a), lower(b), (p, q) => p > q);
  const hi = pick(upper(a), upper(b), (p, q) => p < q);
  return { ...(lo ? { [lo.op]: lo.value } : {}), ...(hi ? { [hi.op]: hi.value } : {}) };
}

/**
 * True when `sortFields` are the first of `indexFields`, in order, all in the index's directions or all reversed (the
 * server scans an index backwards for the reverse order).
 */
function follows(
  sortFields: readonly string[], indexFields: readonly string[], sort: Readonly<Record<string, 1 | -1>>, key: Readonly<Record<string, 1 | -1>>,
): boolean {
  if (!sortFields.every((f, i) => indexFields[i] === f)) return false;
  return sortFields.every((f) => sort[f] === key[f]) || sortFields.every((f) => sort[f] === -key[f]!);
}

/**
 * True when `key` serves `filter` with `projection` from the index alone (a covered read: no document fetched): the
 * scan needs no document for a condition ({@link IndexScan.fetchedFor}) and every projected field is in the key.
 */
export function isCovered(key: Readonly<Record<string, 1 | -1>>, filter: Document, projection: Readonly<Record<string, 0 | 1>>): boolean {
  const projected = Object.keys(projection).filter((field) => projection[field] === 1);
  return indexScan(key, filter).fetchedFor.length === 0 && projected.every((field) => field in key);
}

/** The (field, condition) pairs of a filter whose clauses are all ANDed: its own fields and those of its `$and`. */
function conjuncts(filter: Document): [string, unknown][] {
  return Object.entries(filter).flatMap(([field, condition]): [string, unknown][] => {
    if (field !== '$and') return [[field, condition]];
    return (condition as Document[]).flatMap(conjuncts);
  });
}

/**
 * The text an anchored literal regex matches at the start of a string (`'^tab\\.1'` → `'tab.1'`): `^`, then characters
 * and backslash escapes of one character (`\\.`, `\\xHH`) only, as `escapeRegexLiteral` writes them. Anything else
 * (an unanchored pattern, a quantifier, a class) is outside the model.
 */
function literalPrefix(pattern: unknown): string {
  if (typeof pattern !== 'string' || !pattern.startsWith('^')) throw new Error(`$regex ${String(pattern)} is not an anchored literal`);
  let prefix = '';
  for (let i = 1; i < pattern.length; i++) {
    const ch = pattern[i]!;
    if (ch === '\\') {
      const next = pattern[i + 1];
      if (next === 'x') {
        prefix += String.fromCharCode(Number.parseInt(pattern.slice(i + 2, i + 4), 16));
        i += 3;
      } else if (next !== undefined && /[\\^$.|?*+()[\]{}]/.test(next)) {
        prefix += next;
        i += 1;
      } else {
        throw new Error(`the escape \\${String(next)} in $regex ${pattern} is outside the model`);
      }
    } else if (/[\^$.|?*+()[\]{}]/.test(ch)) {
      throw new Error(`$regex ${pattern} is not a literal prefix`);
    } else {
      prefix += ch;
    }
  }
  return prefix;
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
