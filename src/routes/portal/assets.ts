// The portal's one stylesheet, under a content-hashed name so browsers may keep it for a year (a change
// gives it a new name). assets/build.ts writes it to the static assets, which Cloudflare serves before the
// Worker runs; the pages only name it. No third-party origin, no inline style.

const CSS = `
:root { --fg: #1a1d23; --muted: #4b5563; --line: #d7dbe0; --bg: #f7f8fa; --accent: #1d4ed8; --ok: #166534; --bad: #b91c1c; --warn: #92400e; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
a { color: var(--accent); }
a:focus-visible, button:focus-visible, input:focus-visible, select:focus-visible, summary:focus-visible { outline: 3px solid #f59e0b; outline-offset: 2px; }
.skip { position: absolute; left: -999px; } .skip:focus { left: 8px; top: 8px; background: #fff; padding: 4px 8px; z-index: 2; }
header { background: #0f172a; color: #fff; padding: 10px 16px; display: flex; flex-wrap: wrap; gap: 8px 16px; align-items: center; }
header .brand { font-weight: 700; color: #fff; text-decoration: none; }
header nav ul { list-style: none; display: flex; flex-wrap: wrap; gap: 4px 14px; margin: 0; padding: 0; }
header nav a { color: #e2e8f0; text-decoration: none; padding: 2px 0; }
header nav a[aria-current="page"] { color: #fff; border-bottom: 2px solid #fbbf24; }
header .who { margin-left: auto; display: flex; gap: 10px; align-items: center; flex-wrap: wrap; }
header .who a { color: #e2e8f0; }
.mode { font-size: 12px; font-weight: 700; text-transform: uppercase; padding: 2px 8px; border-radius: 10px; }
.mode-test { background: #fbbf24; color: #111; } .mode-live { background: #22c55e; color: #052e16; }
main { max-width: 1200px; margin: 0 auto; padding: 16px; }
h1 { font-size: 22px; margin: 8px 0 16px; } h2 { font-size: 18px; margin: 24px 0 8px; }
code, main a, h1, h2, caption { overflow-wrap: anywhere; }
figure { margin: 0 0 16px; }
header form { margin: 0; }
.panel { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 12px 16px; margin-bottom: 16px; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; background: #fff; }
th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-size: 13px; color: var(--muted); font-weight: 600; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; margin: 0; }
dt { color: var(--muted); } dd { margin: 0; overflow-wrap: anywhere; }
.status { font-weight: 600; white-space: nowrap; }
.status-completed, .status-delivered { color: var(--ok); }
.status-failed, .status-returned, .status-expired, .status-canceled { color: var(--bad); }
.status-pending_verification, .status-processing, .status-submitting, .status-pending { color: var(--warn); }
form.filters { display: flex; flex-wrap: wrap; gap: 8px 12px; align-items: end; margin-bottom: 12px; }
label { display: flex; flex-direction: column; font-size: 13px; color: var(--muted); gap: 2px; }
input, select, button { font: inherit; padding: 5px 8px; border: 1px solid #9ca3af; border-radius: 4px; background: #fff; color: var(--fg); }
button { background: var(--accent); color: #fff; border-color: var(--accent); cursor: pointer; }
button.link { background: none; border: none; color: inherit; text-decoration: underline; padding: 0; }
pre { background: #0f172a; color: #e2e8f0; padding: 10px; border-radius: 4px; white-space: pre-wrap; overflow-wrap: anywhere; font-size: 13px; }
.muted { color: var(--muted); }
.timeline { list-style: none; margin: 0; padding: 0; }
.timeline > li { border-left: 3px solid var(--line); padding: 4px 0 12px 14px; }
.notice { padding: 10px 14px; border-radius: 4px; background: #ecfdf5; border: 1px solid #6ee7b7; margin-bottom: 12px; }
.pager { display: flex; gap: 12px; margin-top: 12px; }
.status-active { color: var(--ok); } .status-revoked { color: var(--bad); }
.secret code { display: block; font-size: 16px; overflow-wrap: anywhere; background: #fff; border: 1px dashed var(--accent); padding: 8px 10px; border-radius: 4px; user-select: all; }
label.check { flex-direction: row; align-items: center; gap: 8px; color: var(--fg); font-size: 15px; margin-bottom: 8px; }
button.danger { background: var(--bad); border-color: var(--bad); }
.error { padding: 10px 14px; border-radius: 4px; background: #fef2f2; border: 1px solid #fca5a5; margin-bottom: 12px; }
form.stack { display: grid; gap: 10px; max-width: 640px; }
form.stack input:not([type="checkbox"]), form.stack select { width: 100%; }
fieldset { border: 1px solid var(--line); border-radius: 4px; padding: 8px 12px; margin: 0; min-width: 0; }
legend { font-size: 13px; font-weight: 600; padding: 0 4px; }
.status-enabled { color: var(--ok); } .status-disabled { color: var(--bad); }
.url, td.excerpt { overflow-wrap: anywhere; } td.excerpt { max-width: 40ch; }
`.trim()

/** FNV-1a, enough to name a version of one file. */
const contentHash = (text: string) => {
  let hash = 0x811c9dc5
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193)
  return (hash >>> 0).toString(16).padStart(8, '0')
}

export const STYLESHEET = { path: `/portal/assets/portal.${contentHash(CSS)}.css`, body: CSS }
