import { fieldProblem } from '../lib/problem'

/**
 * Reads a page after `startingAfter`, checking in parallel that the cursor names something the
 * caller may list: an unknown or foreign id is a field error, never a page that looks like the end
 * (or like someone else's place in the list).
 */
export const pageAfterKnownCursor = async <Page>(
  startingAfter: string | undefined,
  exists: (id: string) => Promise<boolean>,
  what: string,
  readPage: () => Promise<Page>,
): Promise<Page> => {
  const [page, known] = await Promise.all([readPage(), startingAfter === undefined ? true : exists(startingAfter)])
  if (!known) {
    throw fieldProblem(
      'starting_after',
      { code: 'not_found', message: `unknown ${what} id` },
      `\`starting_after\` does not name one of your ${what}s.`,
    )
  }
  return page
}
