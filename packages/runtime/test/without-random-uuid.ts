/**
 * Takes `crypto.randomUUID` away, as a browser does in an insecure context (a page served over plain HTTP from a LAN
 * address), wherever on the `crypto` object's prototype chain it is defined; returns the function that puts it back.
 */
export function withoutRandomUuid(): () => void {
  const removed: { readonly owner: object; readonly descriptor: PropertyDescriptor }[] = [];
  for (let owner: object | null = globalThis.crypto; owner; owner = Object.getPrototypeOf(owner) as object | null) {
    const descriptor = Object.getOwnPropertyDescriptor(owner, 'randomUUID');
    if (!descriptor) continue;
    removed.push({ owner, descriptor });
    delete (owner as { randomUUID?: unknown }).randomUUID;
  }
  if ('randomUUID' in globalThis.crypto) throw new Error('crypto.randomUUID could not be removed');
  return () => {
    for (const { owner, descriptor } of removed) Object.defineProperty(owner, 'randomUUID', descriptor);
  };
}
