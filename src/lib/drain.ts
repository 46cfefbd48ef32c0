/**
 * Reads and drops what is left of a body, up to `limit` bytes, then lets go of it: a refused request's
 * client still gets its answer once its body is read, and nothing is held for a body that never ends.
 */
export const drainReader = async (reader: ReadableStreamDefaultReader<Uint8Array>, limit: number) => {
  let read = 0
  try {
    while (read <= limit) {
      const { done, value } = await reader.read()
      if (done) return
      read += value.byteLength
    }
  } catch {
    // the body failed (over its limit, the client went away): nothing more to read
  } finally {
    await reader.cancel().catch(() => {})
  }
}
