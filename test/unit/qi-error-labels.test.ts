import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { QI_ERROR_KEYS } from '../../sandbox/qi/errors'

// Every error of the QI sandbox says where it comes from (as sandbox/sfox/errors.ts does for sFOX): a line of a
// stored page ([DOC nnn]), the summary qi.md ([SUMMARY qi.md §n]) or nobody ([INFERRED]).
const source = readFileSync(new URL('../../sandbox/qi/errors.ts', import.meta.url), 'utf8')
const LABEL = /\[(DOC \d{3}|SUMMARY qi\.md §\d+(\.\d+)?|INFERRED)\]/

/** The comment lines right above `  KEY: {` in the catalogue. */
const commentAbove = (key: string): string => {
  const lines = source.split('\n')
  const at = lines.indexOf(`  ${key}: {`)
  if (at < 0) return ''
  const comment: string[] = []
  for (let i = at - 1; i >= 0 && lines[i]!.trimStart().startsWith('//'); i--) comment.unshift(lines[i]!)
  return comment.join('\n')
}

describe('QI sandbox error catalogue', () => {
  it('lists the errors it answers with', () => {
    expect(QI_ERROR_KEYS).toContain('TED000084')
    expect(QI_ERROR_KEYS.length).toBeGreaterThan(15)
  })

  it.each(QI_ERROR_KEYS)('%s carries a provenance label', (key) => {
    expect(commentAbove(key), `${key} has no [DOC nnn] / [SUMMARY qi.md §n] / [INFERRED] comment`).toMatch(LABEL)
  })
})
