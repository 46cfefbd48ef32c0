import { utf8 } from '../../lib/encoding'

/**
 * The framing of a multipart/form-data body written as it goes (the parts' bytes in between come
 * from the caller): its length is not known up front, so it is sent chunked.
 */
export const multipartFraming = () => {
  const boundary = `----tgw${crypto.randomUUID().replaceAll('-', '')}`
  // Names and file names were validated (no control characters); quotes are percent-encoded as browsers do.
  const quoted = (text: string) => text.replaceAll('"', '%22')
  return {
    contentType: `multipart/form-data; boundary=${boundary}`,
    /** A text part, whole. */
    text: (name: string, value: string) =>
      utf8(`--${boundary}\r\nContent-Disposition: form-data; name="${quoted(name)}"\r\n\r\n${value}\r\n`),
    /** A file part's headers; its bytes follow, then `partEnd`. */
    fileHead: (name: string, filename: string, contentType: string) =>
      utf8(
        `--${boundary}\r\nContent-Disposition: form-data; name="${quoted(name)}"; filename="${quoted(filename)}"\r\nContent-Type: ${contentType || 'application/octet-stream'}\r\n\r\n`,
      ),
    partEnd: utf8('\r\n'),
    close: utf8(`--${boundary}--\r\n`),
  }
}
