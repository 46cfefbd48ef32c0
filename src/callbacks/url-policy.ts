/**
 * Which receiver URLs partners may register (pure). The gateway posts to them from its own
 * network, so addresses that name the gateway's surroundings (loopback, private, link-local, CGNAT,
 * cloud metadata) are refused unless the deployment allows them (local dev and tests do).
 */
export type UrlPolicy = { allowHttp: boolean; allowPrivateHosts: boolean }

export type UrlCheck = { ok: true; url: string } | { ok: false; message: string }

/** The deployment's policy, from its settings. */
export const urlPolicyOf = (settings: {
  WEBHOOK_ALLOW_HTTP: boolean
  WEBHOOK_ALLOW_PRIVATE_HOSTS: boolean
}): UrlPolicy => ({
  allowHttp: settings.WEBHOOK_ALLOW_HTTP,
  allowPrivateHosts: settings.WEBHOOK_ALLOW_PRIVATE_HOSTS,
})

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

// An IPv6 address as its eight 16-bit groups (URL parsing has already normalized it), or null.
const ipv6Groups = (host: string): number[] | null => {
  let text = host
  const dotted = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(text)
  if (dotted) {
    const v4 = ipv4(dotted[2]!)
    if (!v4) return null
    text = `${dotted[1]}${((v4[0]! << 8) | v4[1]!).toString(16)}:${((v4[2]! << 8) | v4[3]!).toString(16)}`
  }
  const halves = text.split('::')
  if (halves.length > 2) return null
  const part = (s: string) => (s === '' ? [] : s.split(':'))
  const head = part(halves[0]!)
  const tail = halves.length === 2 ? part(halves[1]!) : []
  const missing = 8 - head.length - tail.length
  if (halves.length === 1 ? missing !== 0 : missing < 1) return null
  const groups = [...head, ...Array(halves.length === 2 ? missing : 0).fill('0'), ...tail]
  if (!groups.every((g) => /^[0-9a-f]{1,4}$/.test(g))) return null
  return groups.map((g) => parseInt(g, 16))
}

const ipv4In = (hi: number, lo: number) => [hi >> 8, hi & 255, lo >> 8, lo & 255]

const privateIpv6 = (host: string) => {
  const g = ipv6Groups(host.toLowerCase())
  if (!g) return true // not an address we can judge: refuse
  const [a, b, c, d, e, f, hi, lo] = g as [number, number, number, number, number, number, number, number]
  const zeroPrefix = a === 0 && b === 0 && c === 0 && d === 0 && e === 0
  if (zeroPrefix && f === 0) return hi === 0 && lo <= 1 ? true : privateIpv4(ipv4In(hi, lo)) // ::, ::1, IPv4-compatible ::/96
  if (zeroPrefix && f === 0xffff) return privateIpv4(ipv4In(hi, lo)) // IPv4-mapped ::ffff:0:0/96
  if (a === 0x64 && b === 0xff9b) return privateIpv4(ipv4In(hi, lo)) // NAT64 64:ff9b::/96 (and /48 local use)
  if (a === 0x2002) return privateIpv4(ipv4In(b, c)) // 6to4 2002::/16 carries the IPv4 in bits 16–47
  if (a === 0x2001 && b === 0) return true // Teredo 2001::/32 tunnels to wherever its relay says
  return (
    (a & 0xfe00) === 0xfc00 || // unique local fc00::/7 (AWS metadata fd00:ec2::254 among them)
    (a & 0xffc0) === 0xfe80 || // link-local fe80::/10
    (a & 0xffc0) === 0xfec0 || // site-local fec0::/10 (deprecated, still routed in places)
    (a & 0xff00) === 0xff00 || // multicast
    (a === 0x2001 && b === 0x0db8) || // documentation
    a === 0x0100 // discard-only 100::/64
  )
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
    const host = url.hostname
      .replace(/^\[|\]$/g, '')
      .toLowerCase()
      .replace(/\.$/, '')
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
