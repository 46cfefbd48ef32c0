import { readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

// The layers of src/, bottom first: a unit (a folder, or a file at the top of src/) may import only
// units listed before it. Type-only imports count: they tie the code together just the same.
const LAYERS = [
  'lib',
  'rules',
  'schemas',
  'providers',
  'services.ts',
  'audit',
  'partners',
  'callbacks',
  'documents',
  'transfers',
  'reconcile',
  'operations',
  'build-services.ts',
  'durable-objects',
  'middleware',
  'routes',
  'openapi.ts',
  'app.ts',
  'worker.ts',
  'index.ts',
]

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..')

const sourceFiles = (dir: string): string[] =>
  readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) return sourceFiles(path)
    return /\.tsx?$/.test(name) ? [path] : []
  })

// Static imports and re-exports (`import x from`, `import type`, `export … from`) and dynamic import().
const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s*['"](\.[^'"]+)['"]|import\(\s*['"](\.[^'"]+)['"]\s*\)/g

const resolveImport = (from: string, spec: string): string | null => {
  const base = resolve(dirname(from), spec)
  for (const candidate of [base, `${base}.ts`, `${base}.tsx`, join(base, 'index.ts')]) {
    try {
      if (statSync(candidate).isFile()) return candidate
    } catch {
      // not this one
    }
  }
  return null
}

/** Every file's relative imports that resolve to a file (of this tree or beyond it). */
const importGraph = (dir: string) => {
  const graph = new Map<string, string[]>()
  for (const file of sourceFiles(dir)) {
    const text = readFileSync(file, 'utf8')
    const targets: string[] = []
    for (const match of text.matchAll(IMPORT)) {
      const target = resolveImport(file, (match[1] ?? match[2])!)
      if (target) targets.push(target)
    }
    graph.set(file, targets)
  }
  return graph
}

/** The cycles among nodes of `edges` (each as its path of nodes), one per strongly connected group. */
const cyclesOf = (edges: Map<string, Set<string>>): string[][] => {
  const cycles: string[][] = []
  const state = new Map<string, 'open' | 'done'>()
  const stack: string[] = []
  const visit = (node: string) => {
    state.set(node, 'open')
    stack.push(node)
    for (const next of edges.get(node) ?? []) {
      if (state.get(next) === 'open') cycles.push([...stack.slice(stack.indexOf(next)), next])
      else if (!state.has(next)) visit(next)
    }
    stack.pop()
    state.set(node, 'done')
  }
  for (const node of edges.keys()) if (!state.has(node)) visit(node)
  return cycles
}

/**
 * Collapses a file graph to one of folders: every folder of `dir`, nested ones too, is a node. Two kinds of
 * import make no edge: a folder's imports of its own subfolders (transfers/ → transfers/store/) and those of
 * files directly in `dir`. So a cycle is only found among the remaining edges: parent → child imports are
 * taken as internal and never close one (transfers/store/ may import transfers/ back).
 */
const folderEdges = (graph: Map<string, string[]>, dir: string) => {
  const edges = new Map<string, Set<string>>()
  for (const [from, targets] of graph) {
    const source = relative(dir, dirname(from)) || '.'
    for (const to of targets) {
      const target = relative(dir, dirname(to))
      if (target.startsWith('..') || target === source) continue
      // A folder may use what its own subfolders hold (transfers/ → transfers/store/): no edge, not checked.
      if (target.startsWith(`${source}/`) || source === '.') continue
      if (!edges.has(source)) edges.set(source, new Set())
      edges.get(source)!.add(target)
    }
  }
  return edges
}

describe('architecture: one direction of dependencies', () => {
  const src = join(root, 'src')
  const graph = importGraph(src)
  const unitOf = (file: string) => relative(src, file).split('/')[0]!

  it('places every unit of src/ in a layer', () => {
    const units = new Set([...graph.keys()].map(unitOf))
    expect([...units].filter((u) => !LAYERS.includes(u))).toEqual([])
  })

  it('has each layer of src/ import only the layers below it', () => {
    const upward: string[] = []
    for (const [from, targets] of graph) {
      for (const to of targets) {
        if (!to.startsWith(`${src}/`)) continue
        const [a, b] = [unitOf(from), unitOf(to)]
        if (a !== b && LAYERS.indexOf(b) > LAYERS.indexOf(a))
          upward.push(`${relative(root, from)} → ${relative(root, to)}`)
      }
    }
    expect(upward).toEqual([])
  })

  it('has no import cycle between folders of src/ (nested ones too), leaving out parent → child imports and src/*.ts', () => {
    expect(cyclesOf(folderEdges(graph, src))).toEqual([])
  })

  it('has no import cycle between files of bench/', () => {
    const bench = importGraph(join(root, 'bench'))
    const edges = new Map([...bench].map(([file, targets]) => [file, new Set(targets.filter((t) => bench.has(t)))]))
    expect(cyclesOf(edges).map((cycle) => cycle.map((f) => relative(root, f)))).toEqual([])
  })

  it('keeps db/ free of the application: it imports nothing from src/', () => {
    const db = importGraph(join(root, 'db'))
    const intoSrc = [...db].flatMap(([from, targets]) =>
      targets.filter((t) => t.startsWith(`${src}/`)).map((t) => `${relative(root, from)} → ${relative(root, t)}`),
    )
    expect(intoSrc).toEqual([])
  })

  it('finds what it looks for: a planted upward import and a planted cycle are caught', () => {
    // Guards the checks above against passing because they read nothing.
    expect(graph.size).toBeGreaterThan(50)
    const planted = new Map([
      ['a', new Set(['b'])],
      ['b', new Set(['c'])],
      ['c', new Set(['a'])],
    ])
    expect(cyclesOf(planted)).toEqual([['a', 'b', 'c', 'a']])
    const fake = new Map([
      [join(src, 'x/one.ts'), [join(src, 'y/two.ts')]],
      [join(src, 'y/two.ts'), [join(src, 'x/three.ts')]],
    ])
    expect(cyclesOf(folderEdges(fake, src))).toEqual([['x', 'y', 'x']])
  })
})
