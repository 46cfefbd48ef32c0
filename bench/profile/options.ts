// `npm run profile`'s flags (listed in bench/profile.ts's header): `--name value`, a default for
// each one missing, `--perf` on its own.

export type ProfileOptions = {
  /** GET /v1/transfers/{id} requests per pass. */
  getN: number
  /** Creates, confirms and resends per pass. */
  createN: number
  /** 10 MiB document uploads per pass (the upload flow). */
  uploadN: number
  /** GETs and creates before anything is measured (and per variant before the A/B blocks). */
  warmup: number
  /** V8's sampling interval asked for, µs. */
  intervalUs: number
  /** Rows of each top-functions table. */
  top: number
  /** Where the profiles, the bundle and its map go; '' = a new temporary directory. */
  out: string
  /** Which of get, create, confirm, resend, qi-create, qi-confirm, qi-confirm-wrong, upload to profile. */
  flows: string[]
  /** The all-isolates pass: this share of each flow's count; 0 skips it. */
  split: number
  /** Requests per flow and variant of the A/B run; 0 skips it. */
  ab: number
  /** Rounds of the canned-I/O loop (QI's crypto in and out of a request); 0 skips it. */
  loop: number
  /** With --loop: another build of the Worker (a bundle from `wrangler deploy --dry-run --outdir`) to compare the as-built one against, in place of the patched copies. */
  loopAgainst: string
  /** With --loop: each loop flow profiled too (V8's sampler in one more as-built harness), this many turns of 100 requests. */
  loopProfile: number
  /** One more pass per flow under Linux perf. */
  perf: boolean
}

export const parseProfileOptions = (args: string[]): ProfileOptions => {
  const option = (name: string, fallback: string) => {
    const i = args.indexOf(`--${name}`)
    return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : fallback
  }
  return {
    getN: Number(option('get-n', '2000')),
    createN: Number(option('create-n', '1000')),
    warmup: Number(option('warmup', '200')),
    uploadN: Number(option('upload-n', '30')),
    intervalUs: Number(option('interval-us', '100')),
    top: Number(option('top', '25')),
    out: option('out', ''),
    flows: option('flows', 'get,create').split(','),
    split: Number(option('split', '0.25')),
    ab: Number(option('ab', '0')),
    loop: Number(option('loop', '0')),
    loopProfile: Number(option('loop-profile', '0')),
    loopAgainst: option('loop-against', ''),
    perf: args.includes('--perf'),
  }
}
