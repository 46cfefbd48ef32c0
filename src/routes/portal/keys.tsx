import { Hono } from 'hono'
import type { ApiKey } from '../../../db/schema'
import { fieldProblem } from '../../lib/problem'
import type { AppEnv } from '../../middleware/app-env'
import { findApiKey, issueApiKey, listApiKeys, revokeApiKey, rollApiKey } from '../../partners/api-keys'
import type { KeyAccess } from '../../partners/key-format'
import { Csrf, field, page, Scroll, Status, Time } from './layout'

// The partner's API keys in the session's mode: list, issue, roll (with a grace period) and revoke.
// A new key is on the answer to the form that made it, and never again.

const HOUR = 3600

/** How long a rolled key keeps working: the choices the form offers (and the only ones taken). */
export const GRACE_CHOICES = [
  { seconds: 0, label: 'Stop it now' },
  { seconds: HOUR, label: '1 hour' },
  { seconds: 24 * HOUR, label: '24 hours' },
  { seconds: 7 * 24 * HOUR, label: '7 days' },
] as const
const DEFAULT_GRACE = 24 * HOUR

/** What a new key may do: the choices the create form offers (and the only ones taken). */
export const ACCESS_CHOICES = [
  { value: 'full', label: 'Full access' },
  { value: 'read_only', label: 'Read only (GET requests only)' },
] as const satisfies readonly { value: KeyAccess; label: string }[]

const accessLabel = (access: KeyAccess) => (access === 'read_only' ? 'read only' : 'full')

type KeyState = 'active' | 'expired' | 'revoked'

const stateOf = (k: ApiKey, now: number): KeyState =>
  k.revokedAt !== null ? 'revoked' : k.expiresAt !== null && k.expiresAt <= now ? 'expired' : 'active'

const keyHref = (k: Pick<ApiKey, 'id'>) => `/portal/keys/${encodeURIComponent(k.id)}`

const Prefix = ({ k }: { k: ApiKey }) => <code>{k.prefix}…</code>

export const KeyList = (props: { rows: ApiKey[]; now: number; csrf: string; notice?: string }) => (
  <>
    <h1>API keys</h1>
    {props.notice && (
      <p class="notice" role="status">
        {props.notice}
      </p>
    )}
    {props.rows.length === 0 ? (
      <p class="panel">No API keys in this mode yet.</p>
    ) : (
      <>
        <p class="muted">Open a key to roll or revoke it. Keys are shown in full only once, when they are made.</p>
        <Scroll label="API keys">
          <table>
            <caption class="skip">API keys, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Key</th>
                <th scope="col">Mode</th>
                <th scope="col">Access</th>
                <th scope="col">State</th>
                <th scope="col">Created</th>
                <th scope="col">Expires</th>
                <th scope="col">Last used</th>
                <th scope="col">Revoked</th>
              </tr>
            </thead>
            <tbody>
              {props.rows.map((k) => (
                <tr>
                  <td>
                    <a href={keyHref(k)}>
                      <Prefix k={k} />
                    </a>
                  </td>
                  <td>{k.mode}</td>
                  <td>{accessLabel(k.access)}</td>
                  <td>
                    <Status value={stateOf(k, props.now)} />
                  </td>
                  <td>
                    <Time ms={k.createdAt} />
                  </td>
                  <td>
                    <Time ms={k.expiresAt} />
                  </td>
                  <td>
                    <Time ms={k.lastUsedAt} />
                  </td>
                  <td>
                    <Time ms={k.revokedAt} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </Scroll>
      </>
    )}
    <section class="panel" aria-labelledby="new-key">
      <h2 id="new-key">Create a key</h2>
      <form class="filters" method="post" action="/portal/keys">
        <Csrf token={props.csrf} />
        <label>
          Access
          <select name="access">
            {ACCESS_CHOICES.map((a) => (
              <option value={a.value} selected={a.value === 'full'}>
                {a.label}
              </option>
            ))}
          </select>
        </label>
        <label>
          Stops working on (optional, at 00:00 UTC)
          <input type="date" name="expires_on" />
        </label>
        <button type="submit">Create key</button>
      </form>
    </section>
  </>
)

export const KeyPage = (props: { k: ApiKey; now: number; csrf: string; cacheSeconds: number; error?: string }) => {
  const { k } = props
  const state = stateOf(k, props.now)
  return (
    <>
      <h1>
        API key <Prefix k={k} /> <Status value={state} />
      </h1>
      {props.error && (
        <p class="error" role="alert">
          {props.error}
        </p>
      )}
      <section class="panel" aria-labelledby="details">
        <h2 id="details">Details</h2>
        <dl>
          <dt>Id</dt>
          <dd>
            <code>{k.id}</code>
          </dd>
          <dt>Mode</dt>
          <dd>{k.mode}</dd>
          <dt>Access</dt>
          <dd>{accessLabel(k.access)}</dd>
          <dt>Created</dt>
          <dd>
            <Time ms={k.createdAt} />
          </dd>
          <dt>Expires</dt>
          <dd>
            <Time ms={k.expiresAt} />
          </dd>
          <dt>Last used</dt>
          <dd>
            <Time ms={k.lastUsedAt} />
          </dd>
          <dt>Revoked</dt>
          <dd>
            <Time ms={k.revokedAt} />
          </dd>
        </dl>
      </section>
      {state === 'active' ? (
        <>
          <section class="panel" aria-labelledby="roll">
            <h2 id="roll">Roll</h2>
            <p>
              A new key with the same access replaces this one. This key keeps working for the time you choose, so you
              can deploy the new one first.
            </p>
            <form class="filters" method="post" action={`${keyHref(k)}/roll`}>
              <Csrf token={props.csrf} />
              <label>
                Keep this key working for
                <select name="grace_seconds">
                  {GRACE_CHOICES.map((g) => (
                    <option value={String(g.seconds)} selected={g.seconds === DEFAULT_GRACE}>
                      {g.label}
                    </option>
                  ))}
                </select>
              </label>
              <button type="submit">Roll key</button>
            </form>
          </section>
          <section class="panel" aria-labelledby="revoke">
            <h2 id="revoke">Revoke</h2>
            <p>
              Every call made with this key is refused from now on (everywhere within {props.cacheSeconds} seconds).
            </p>
            <form method="post" action={`${keyHref(k)}/revoke`}>
              <Csrf token={props.csrf} />
              <label class="check">
                <input type="checkbox" name="confirm" value="yes" required />
                Yes, revoke <Prefix k={k} />
              </label>
              <button class="danger" type="submit">
                Revoke key
              </button>
            </form>
          </section>
        </>
      ) : (
        <p class="panel">This key no longer works; it cannot be rolled or revoked.</p>
      )}
      <p>
        <a href="/portal/keys">All keys</a>
      </p>
    </>
  )
}

/** The answer to a form that made a key: the one time it is shown. */
export const NewKey = (props: { k: ApiKey; secret: string; previous?: ApiKey; now: number }) => (
  <>
    <h1>New API key</h1>
    <p class="notice" role="status">
      Copy this key now and keep it somewhere safe: it will not be shown again.
    </p>
    <section class="panel" aria-labelledby="secret">
      <h2 id="secret">
        Your new {props.k.mode} key <Prefix k={props.k} />
      </h2>
      <p class="secret">
        <code>{props.secret}</code>
      </p>
      <dl>
        <dt>Access</dt>
        <dd>{accessLabel(props.k.access)}</dd>
        <dt>Expires</dt>
        <dd>{props.k.expiresAt === null ? 'never' : <Time ms={props.k.expiresAt} />}</dd>
      </dl>
    </section>
    {props.previous && (
      <p>
        The old key <Prefix k={props.previous} />{' '}
        {props.previous.expiresAt !== null && props.previous.expiresAt > props.now ? (
          <>
            keeps working until <Time ms={props.previous.expiresAt} />.
          </>
        ) : (
          'no longer works.'
        )}
      </p>
    )}
    <p>
      <a href="/portal/keys">All keys</a>
    </p>
  </>
)

/** A date (YYYY-MM-DD) in the future, as the start of that day in UTC; none: no expiry. */
const expiryOf = (value: string | undefined, now: number): string | undefined => {
  if (value === undefined) return undefined
  const at = /^\d{4}-\d{2}-\d{2}$/.test(value) ? Date.parse(`${value}T00:00:00.000Z`) : Number.NaN
  if (Number.isNaN(at)) {
    throw fieldProblem('expires_on', { code: 'invalid_date', message: 'must be a date' }, 'Choose a valid date.')
  }
  if (at <= now) {
    throw fieldProblem(
      'expires_on',
      { code: 'in_the_past', message: 'must be in the future' },
      'A key that expires in the past would never work: choose a later date.',
    )
  }
  return new Date(at).toISOString()
}

export const keyPages = new Hono<AppEnv>()

// Nothing here is for a browser's cache: a page may hold a key shown once.
keyPages.use('/keys/*', async (c, next) => {
  await next()
  c.header('cache-control', 'no-store')
})

keyPages.get('/keys', async (c) => {
  const { db, now } = c.get('services')
  const partner = c.get('partner')
  const rows = await listApiKeys(db, partner.id, partner.mode)
  const notice = c.req.query('revoked') ? 'The key was revoked.' : undefined
  return c.html(
    page(c, {
      title: 'API keys',
      section: 'keys',
      children: <KeyList rows={rows} now={now()} csrf={c.get('portal').csrf} notice={notice} />,
    }),
  )
})

/** The access chosen on the form; none (an older form): full. */
const accessOf = (value: string | undefined): KeyAccess => {
  const choice = ACCESS_CHOICES.find((a) => a.value === (value ?? 'full'))
  if (!choice) {
    throw fieldProblem(
      'access',
      { code: 'invalid_choice', message: 'must be one of the choices offered' },
      'Choose what the key may do from the list.',
    )
  }
  return choice.value
}

keyPages.post('/keys', async (c) => {
  const { db, settings, now } = c.get('services')
  const at = now()
  const form = await c.req.parseBody()
  const access = accessOf(field(form, 'access'))
  const expires_at = expiryOf(field(form, 'expires_on'), at)
  const { row, key } = await issueApiKey(
    db,
    settings.API_KEY_SECRET,
    c.get('partner').id,
    { mode: c.get('partner').mode, access, expires_at },
    at,
  )
  c.get('audit').about({ objectId: row.id })
  return c.html(
    page(c, { title: 'New API key', section: 'keys', children: <NewKey k={row} secret={key} now={at} /> }),
    201,
  )
})

const ownerOf = (c: { var: AppEnv['Variables'] }) => ({ partnerId: c.var.partner.id, mode: c.var.partner.mode })

keyPages.get('/keys/:key_id', async (c) => {
  const { db, settings, now } = c.get('services')
  const k = await findApiKey(db, ownerOf(c), c.req.param('key_id'))
  return c.html(
    page(c, {
      title: `API key ${k.prefix}`,
      section: 'keys',
      children: <KeyPage k={k} now={now()} csrf={c.get('portal').csrf} cacheSeconds={settings.API_KEY_CACHE_SECONDS} />,
    }),
  )
})

keyPages.post('/keys/:key_id/roll', async (c) => {
  const { db, settings, now } = c.get('services')
  const given = field(await c.req.parseBody(), 'grace_seconds') ?? String(DEFAULT_GRACE)
  const grace = GRACE_CHOICES.find((g) => String(g.seconds) === given)
  if (!grace) {
    throw fieldProblem(
      'grace_seconds',
      { code: 'invalid_choice', message: 'must be one of the choices offered' },
      'Choose how long the old key keeps working from the list.',
    )
  }
  const at = now()
  const rolled = await rollApiKey(db, settings.API_KEY_SECRET, ownerOf(c), c.req.param('key_id'), grace.seconds, at)
  return c.html(
    page(c, {
      title: 'New API key',
      section: 'keys',
      children: <NewKey k={rolled.row} secret={rolled.key} previous={rolled.previous} now={at} />,
    }),
    201,
  )
})

keyPages.post('/keys/:key_id/revoke', async (c) => {
  const { db, settings, now } = c.get('services')
  const owner = ownerOf(c)
  const keyId = c.req.param('key_id')
  if (field(await c.req.parseBody(), 'confirm') !== 'yes') {
    // Without the confirmation box ticked nothing changes: the key's page again, saying why.
    const k = await findApiKey(db, owner, keyId)
    return c.html(
      page(c, {
        title: `API key ${k.prefix}`,
        section: 'keys',
        children: (
          <KeyPage
            k={k}
            now={now()}
            csrf={c.get('portal').csrf}
            cacheSeconds={settings.API_KEY_CACHE_SECONDS}
            error="Tick the box to confirm the revocation; the key was not revoked."
          />
        ),
      }),
      422,
    )
  }
  await revokeApiKey(db, owner, keyId, now())
  return c.redirect('/portal/keys?revoked=1', 303)
})
