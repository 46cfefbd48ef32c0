import type { Child } from 'hono/jsx'
import type { AppEnv } from '../../middleware/app-env'
import type { PartnerContext } from '../../services'
import { STYLESHEET } from './assets'

export type Section = 'overview' | 'transfers' | 'endpoints' | 'keys' | 'documents'

const SECTIONS: { id: Section; href: string; label: string }[] = [
  { id: 'overview', href: '/portal', label: 'Overview' },
  { id: 'transfers', href: '/portal/transfers', label: 'Transfers' },
  { id: 'endpoints', href: '/portal/endpoints', label: 'Webhook endpoints' },
  { id: 'keys', href: '/portal/keys', label: 'API keys' },
  { id: 'documents', href: '/portal/documents', label: 'Documents' },
]

export type PageProps = {
  title: string
  section?: Section
  partner?: Pick<PartnerContext, 'name' | 'mode'>
  portal?: { csrf: string; returnUrl: string | null }
  children: Child
}

/** Every portal page: its own stylesheet, a skip link, the partner and mode always in view. */
export const Layout = ({ title, section, partner, portal, children }: PageProps) => (
  <html lang="en">
    <head>
      <meta charset="utf-8" />
      <meta name="viewport" content="width=device-width, initial-scale=1" />
      <title>{`${title} · transfer-gateway`}</title>
      <link rel="stylesheet" href={STYLESHEET.path} />
      {/* No favicon request (it would be a 404 on every first visit). */}
      <link rel="icon" href="data:," />
    </head>
    <body>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header>
        <a class="brand" href="/portal">
          transfer-gateway
        </a>
        {partner && (
          <nav aria-label="Portal">
            <ul>
              {SECTIONS.map((s) => (
                <li>
                  <a href={s.href} aria-current={s.id === section ? 'page' : undefined}>
                    {s.label}
                  </a>
                </li>
              ))}
            </ul>
          </nav>
        )}
        {partner && portal && (
          <div class="who">
            <span>{partner.name}</span>
            <span class={`mode mode-${partner.mode}`}>{partner.mode === 'live' ? 'Live data' : 'Test data'}</span>
            {portal.returnUrl && <a href={portal.returnUrl}>Back</a>}
            <form method="post" action="/portal/logout">
              <input type="hidden" name="_csrf" value={portal.csrf} />
              <button class="link" type="submit">
                Sign out
              </button>
            </form>
          </div>
        )}
      </header>
      <main id="main">{children}</main>
    </body>
  </html>
)

/** Renders a page inside the layout, for the signed-in partner (every page handler's last line). */
export const page = (c: { var: AppEnv['Variables'] }, props: Omit<PageProps, 'partner' | 'portal'>) => (
  <Layout {...props} partner={c.var.partner} portal={c.var.portal} />
)

/** A table that may scroll sideways on a phone: focusable and named, so a keyboard can scroll it too. */
export const Scroll = ({ label, children }: { label: string; children: Child }) => (
  <section class="scroll" aria-label={label} tabindex={0}>
    {children}
  </section>
)

/** A form's hidden CSRF field: every state-changing form carries it. */
export const Csrf = ({ token }: { token: string }) => <input type="hidden" name="_csrf" value={token} />

/** A form field as a string (absent, a file or empty: undefined). */
export const field = (form: Record<string, unknown>, name: string): string | undefined => {
  const value = form[name]
  return typeof value === 'string' && value !== '' ? value : undefined
}

export const Status = ({ value }: { value: string }) => <span class={`status status-${value}`}>{value}</span>

/** A time people read, and the exact instant for machines and tooltips. */
export const Time = ({ ms }: { ms: number | null }) =>
  ms === null ? (
    <span class="muted">—</span>
  ) : (
    <time datetime={new Date(ms).toISOString()}>{new Date(ms).toISOString().replace('T', ' ').slice(0, 19)} UTC</time>
  )
