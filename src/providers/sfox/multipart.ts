import { utf8 } from '../../lib/encoding'

/** A text part, or a file part (sent under `filename` when given, else the file's own name). */
export type Part = { name: string; value: string } | { name: string; file: File; filename?: string }

/**
 * A multipart/form-data body streamed from its parts: files are read from the request that brought
 * them as the upload goes out, instead of being serialized into one more in-memory copy (as a
 * FormData body would be). Its exact length is known up front, so it goes out with Content-Length.
 */
export const multipartBody = (parts: Part[]) => {
  const boundary = `----tgw${crypto.randomUUID().replaceAll('-', '')}`
  // Names and file names were validated (no control characters); quotes are percent-encoded as browsers do.
  const quoted = (text: string) => text.replaceAll('"', '%22')
  const heads = parts.map((part) =>
    utf8(
      'file' in part
        ? `--${boundary}\r\nContent-Disposition: form-data; name="${quoted(part.name)}"; filename="${quoted(part.filename ?? part.file.name)}"\r\nContent-Type: ${part.file.type || 'application/octet-stream'}\r\n\r\n`
        : `--${boundary}\r\nContent-Disposition: form-data; name="${quoted(part.name)}"\r\n\r\n`,
    ),
  )
  const values = parts.map((part) => ('file' in part ? null : utf8(part.value)))
  const crlf = utf8('\r\n')
  const tail = utf8(`--${boundary}--\r\n`)
  const length =
    parts.reduce(
      (sum, part, i) => sum + heads[i]!.length + ('file' in part ? part.file.size : values[i]!.length) + crlf.length,
      0,
    ) + tail.length

  let index = 0
  let reader: ReadableStreamDefaultReader<Uint8Array> | null = null
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (reader) {
        const { done, value } = await reader.read()
        if (!done) return controller.enqueue(value)
        reader = null
        controller.enqueue(crlf)
        index += 1
        return
      }
      const part = parts[index]
      if (!part) {
        controller.enqueue(tail)
        return controller.close()
      }
      controller.enqueue(heads[index]!)
      if ('file' in part) {
        reader = part.file.stream().getReader()
      } else {
        controller.enqueue(values[index]!)
        controller.enqueue(crlf)
        index += 1
      }
    },
  })
  const sized = new FixedLengthStream(length)
  void stream.pipeTo(sized.writable).catch(() => {})
  return { body: sized.readable, contentType: `multipart/form-data; boundary=${boundary}`, length }
}
