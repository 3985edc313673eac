/**
 * Where the runtime gets fresh unique ids (instance ids, execution ids, message ids). Injected, like the
 * {@link Clock}, so that tests can make ids predictable.
 */
export type NewId = () => string;

/** Random UUIDs (`crypto.randomUUID`, web-standard). */
export const randomId: NewId = () => crypto.randomUUID();
