/**
 * The next chunk a text stream's reader gives. A stream that ends before what a test waits for arrived throws here:
 * a loop of `(await reader.read()).value ?? ''` would spin on `done` in microtasks for good, where not even the test's
 * timeout fires.
 */
export async function readMore(reader: ReadableStreamDefaultReader<string>): Promise<string> {
  const chunk = await reader.read();
  if (chunk.done) throw new Error('the stream ended before what the test waits for arrived');
  return chunk.value;
}
