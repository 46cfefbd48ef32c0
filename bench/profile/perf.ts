// `--perf`: Linux perf samples workerd's event-loop thread, and its report is summed by native
// component (V8 JIT code, V8 runtime, kj, capnp, workerd API, SQLite, libc, kernel): what V8's profile cannot see.
import { spawn } from 'node:child_process'
import { usPerRequest } from '../table'

const runCommand = (command: string, argv: string[]) =>
  new Promise<string>((ok, fail) => {
    const child = spawn(command, argv, { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout.on('data', (d) => (out += d))
    child.stderr.on('data', (d) => (err += d))
    child.on('error', fail)
    child.on('exit', (code) =>
      code === 0 ? ok(out) : fail(new Error(`${command} ${argv.join(' ')}: exit ${code}: ${err.slice(0, 400)}`)),
    )
  })

/** Starts `perf record` on one thread; `stop` ends it and answers the report's text. */
export const startPerf = async (tid: number, file: string) => {
  const child = spawn('perf', ['record', '-F', '2999', '-t', String(tid), '-o', file], {
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  let err = ''
  child.stderr.on('data', (d) => (err += d))
  const exited = new Promise<number | null>((ok) => child.on('exit', (code) => ok(code)))
  child.on('error', (e) => (err += String(e)))
  await new Promise((r) => setTimeout(r, 300)) // attached
  return {
    stop: async () => {
      child.kill('SIGINT')
      const code = await exited
      if (code !== 0 && code !== null) throw new Error(`perf record: exit ${code}: ${err.slice(0, 400)}`)
      return runCommand('perf', [
        'report',
        '-i',
        file,
        '--stdio',
        '--no-children',
        '--sort',
        'dso,sym',
        '--percent-limit',
        '0',
        '-q',
      ])
    },
  }
}

/** A component for a native symbol (perf's dso + symbol). */
const componentOf = (dso: string, sym: string) => {
  if (dso.includes('kernel')) return 'kernel (syscalls, network, scheduling)'
  if (/^libc|^ld-linux|libm\b|libstdc|libpthread/.test(dso)) return 'libc/libstdc++ (malloc, memcpy, …)'
  if (dso.startsWith('[JIT]') || dso === '[unknown]') return 'V8 JIT code (optimized JS, baseline code, regexps)'
  if (!dso.includes('workerd')) return `other: ${dso}`
  if (/^Builtins_/.test(sym)) return 'V8 builtins (interpreter, IC, promises, …)'
  if (
    /^v8::internal::(Heap|Scavenger|MarkCompact|Sweeper|Minor|Marking|Concurrent|GC)|::(Scavenge|Evacuat|Mark)/.test(
      sym,
    )
  )
    return 'V8 GC'
  if (/^v8::internal::.*(Serializer|Deserializer)|ValueSerializer|ValueDeserializer/.test(sym))
    return 'V8 value serializer (RPC/structured clone)'
  if (/^(v8::|v8_inspector|cppgc::)/.test(sym)) return 'V8 runtime (API, compiler, objects)'
  if (/^(sqlite3|sqlite)/i.test(sym)) return 'SQLite'
  if (/^capnp::|^kj::.*capnp/.test(sym)) return "Cap'n Proto (RPC, serialization)"
  if (/^kj::.*(Http|http)/.test(sym)) return 'kj HTTP'
  if (/^kj::/.test(sym)) return 'kj (event loop, async, strings, memory)'
  if (/^workerd::api::/.test(sym)) return 'workerd API (Request/Response/fetch/streams/crypto/…)'
  if (/^workerd::/.test(sym)) return 'workerd runtime (IoContext, actors, jsg glue)'
  if (/^(EVP_|SHA|HMAC|AES|BN_|bssl|OPENSSL|CRYPTO_)/.test(sym)) return 'BoringSSL'
  if (/^(__|std::)/.test(sym)) return 'C++ std/runtime'
  return 'workerd binary (other)'
}

export const perfSummary = (report: string, requests: number, threadMs: number, top: number) => {
  // Lines: "  12.34%  workerd  [.] symbol" (perf report -q --sort dso,sym)
  const rows: { pct: number; dso: string; sym: string }[] = []
  for (const line of report.split('\n')) {
    const m = /^\s*([\d.]+)%\s+(.+?)\s+\[[.k]\]\s+(.*)$/.exec(line)
    if (m) rows.push({ pct: Number(m[1]), dso: m[2]!, sym: m[3]!.trim() })
  }
  const byComponent = new Map<string, number>()
  for (const r of rows)
    byComponent.set(componentOf(r.dso, r.sym), (byComponent.get(componentOf(r.dso, r.sym)) ?? 0) + r.pct)
  const us = (pct: number) => `${((10 * pct * threadMs) / requests).toFixed(0).padStart(5)} µs/req`
  return [
    `perf: the event-loop thread's ${usPerRequest(threadMs, requests)} of CPU by native component (µs/req = share x that CPU):`,
    ...[...byComponent.entries()]
      .sort((a, b) => b[1] - a[1])
      .map(([c, pct]) => `  ${pct.toFixed(1).padStart(5)}% ${us(pct)}  ${c}`),
    `perf: top ${top} native symbols:`,
    ...rows
      .slice(0, top)
      .map(
        (r, i) =>
          `${String(i + 1).padStart(3)}. ${r.pct.toFixed(2).padStart(5)}% ${us(r.pct)}  ${r.sym.length > 140 ? `${r.sym.slice(0, 140)}…` : r.sym}  [${r.dso}]`,
      ),
  ].join('\n')
}
