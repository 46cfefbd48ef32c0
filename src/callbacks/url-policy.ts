/**
 * Which receiver URLs partners may register (pure). The gateway posts to them from its own
 * network, so addresses that name the gateway's surroundings (loopback, private, link-local, CGNAT,
 * cloud metadata) are refused unless the deployment allows them (local dev and tests do).
 */
export type UrlPolicy = { allowHttp: boolean; allowPrivateHosts: boolean }

export type UrlCheck = { ok: true; url: string } | { ok: false; message: string }

const ipv4 = (host: string): number[] | null => {
  const parts = host.split('.')
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) return null
  return parts.map(Number)
}

const privateIpv4 = ([a, b]: number[]) =>
  a === 0 || // "this" network
  a === 10 ||
  a === 127 ||
  (a === 100 && b! >= 64 && b! <= 127) || // CGNAT 100.64.0.0/10
  (a === 169 && b === 254) || // link-local, cloud metadata 169.254.169.254
  (a === 172 && b! >= 16 && b! <= 31) ||
  (a === 192 && b === 168) ||
  (a === 192 && b === 0) || // 192.0.0.0/24 protocol assignments
  (a === 198 && (b === 18 || b === 19)) || // benchmarking
  a! >= 224 // multicast and reserved

const privateIpv6 = (host: string) => {
  const h = host.toLowerCase()
  if (h === '::' || h === '::1') return true
  // IPv4-mapped (::ffff:a.b.c.d, or the hex form URL parsing produces) judged as the IPv4 inside.
  const mapped = /^::ffff:(.+)$/.exec(h)
  if (mapped) {
    const dotted = ipv4(mapped[1]!)
    if (dotted) return privateIpv4(dotted)
    const hex = /^([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(mapped[1]!)
    if (hex) {
      const hi = parseInt(hex[1]!, 16)
      const lo = parseInt(hex[2]!, 16)
      return privateIpv4([hi >> 8, hi & 255, lo >> 8, lo & 255])
    }
    return true
  }
  return /^f[cd]/.test(h) || /^fe[89ab]/.test(h) || /^ff/.test(h) || h.startsWith('fd00:ec2') // ULA, link-local, multicast, AWS metadata
}

export const checkWebhookUrl = (raw: string, policy: UrlPolicy): UrlCheck => {
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    return { ok: false, message: 'must be an absolute URL' }
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && policy.allowHttp)) {
    return { ok: false, message: policy.allowHttp ? 'must use http or https' : 'must use https' }
  }
  if (url.username || url.password) return { ok: false, message: 'must not contain credentials' }
  if (url.hash) return { ok: false, message: 'must not contain a fragment' }
  if (!policy.allowPrivateHosts) {
    const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase().replace(/\.$/, '')
    if (host === 'localhost' || host.endsWith('.localhost') || host === 'metadata.google.internal') {
      return { ok: false, message: `must not point at ${host}` }
    }
    const v4 = ipv4(host)
    if ((v4 && privateIpv4(v4)) || (host.includes(':') && privateIpv6(host))) {
      return { ok: false, message: 'must not point at a loopback, private, link-local, CGNAT or metadata address' }
    }
  }
  return { ok: true, url: url.toString() }
}
