import { Hono } from 'hono'
import type { DocumentSubmission } from '../../../db/schema'
import { listSubmissions } from '../../documents/submission-store'
import type { AppEnv } from '../../middleware/app-env'
import { page, Scroll, Status, Time } from './layout'

const PAGE_SIZE = 25

const Submissions = (props: { rows: DocumentSubmission[]; hasMore: boolean; userId?: string }) => {
  const last = props.rows.at(-1)
  const more = new URLSearchParams({
    ...(props.userId ? { user_id: props.userId } : {}),
    starting_after: last?.id ?? '',
  })
  return (
    <>
      <h1>Documents</h1>
      <p class="muted">KYC documents sent to sFOX: what was sent, never the contents.</p>
      <search>
        <form class="filters" method="get" action="/portal/documents">
          <label>
            End user
            <input name="user_id" value={props.userId ?? ''} />
          </label>
          <button type="submit">Show</button>
        </form>
      </search>
      {props.rows.length === 0 ? (
        <p class="panel">No document submissions{props.userId ? ` for ${props.userId}` : ''}.</p>
      ) : (
        props.rows.map((s) => (
          <section class="panel" aria-label={`Submission ${s.id}`}>
            <h2>
              {s.userId} <Status value={s.status} />
            </h2>
            <p class="muted">
              <code>{s.id}</code>, <Time ms={s.createdAt} />
              {s.ddqId && `, questionnaire ${s.ddqId}`}
              {s.failureCode && `: ${s.failureCode}, ${s.failureMessage ?? ''}`}
            </p>
            <Scroll label="Files">
              <table>
                <thead>
                  <tr>
                    <th scope="col">File</th>
                    <th scope="col">Document</th>
                    <th scope="col">Content type</th>
                    <th scope="col">Bytes</th>
                    <th scope="col">SHA-256</th>
                  </tr>
                </thead>
                <tbody>
                  {s.files.map((f) => (
                    <tr>
                      <td>{f.name}</td>
                      <td>{f.type}</td>
                      <td>{f.content_type}</td>
                      <td>{f.size}</td>
                      <td>
                        <code>{f.sha256}</code>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </Scroll>
          </section>
        ))
      )}
      {props.hasMore && last && (
        <nav class="pager" aria-label="Pages">
          <a href={`/portal/documents?${more}`}>Older submissions</a>
        </nav>
      )}
    </>
  )
}

export const documentPages = new Hono<AppEnv>()

documentPages.get('/documents', async (c) => {
  const userId = c.req.query('user_id')?.trim() || undefined
  const { rows, hasMore } = await listSubmissions(
    c.get('services').db,
    c.get('partner'),
    userId,
    PAGE_SIZE,
    c.req.query('starting_after') || undefined,
  )
  return c.html(
    page(c, {
      title: 'Documents',
      section: 'documents',
      children: <Submissions rows={rows} hasMore={hasMore} userId={userId} />,
    }),
  )
})
