/**
 * Read a request body up to `limit` bytes; null when it is larger (the rest is not read).
 * Shared by the receive route and the dashboard's small forms.
 */
export async function readBodyWithin(request: Request, limit: number): Promise<Buffer | null> {
  const declared = Number(request.headers.get('content-length') ?? Number.NaN);
  if (Number.isFinite(declared) && declared > limit) return null;
  if (Number.isFinite(declared)) {
    // A declared length within the limit: read the body in one go. On @hono/node-server this
    // reads straight from the socket, without building a web ReadableStream (the stream costs
    // more than the rest of the receive path); Node's HTTP parser never delivers more bytes
    // than content-length, and the size is checked again for runtimes that do not enforce it.
    const whole = Buffer.from(await request.arrayBuffer());
    return whole.length > limit ? null : whole;
  }
  if (!request.body) return Buffer.alloc(0);
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = request.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel();
      return null;
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks, size);
}
