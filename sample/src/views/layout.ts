import { SafeHtml, html } from './html.js';

/**
 * What every page shows around its content: who is logged in (and, for them, the Profile and
 * Your devices links), and the flash messages.
 */
export interface PageFrame {
  title: string;
  /** The logged-in user's name; absent for visitors. */
  user?: string;
  /** Needed for the logout button, shown only to a logged-in user. */
  csrfToken?: string;
  /** Messages queued by the previous request (Post/Redirect/Get), shown once. */
  notices?: string[];
  errors?: string[];
  /** The nav entry to highlight. */
  active?: 'home' | 'profile' | 'devices' | 'login';
}

const STYLE = `
  :root { color-scheme: light; --ink: #1f2933; --muted: #616e7c; --line: #e4e7eb; --brand: #c0392b; --bg: #f5f7fa; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 16px/1.5 -apple-system, BlinkMacSystemFont, "Segoe UI", Roboto, "Helvetica Neue", Arial, "Noto Sans", "Liberation Sans", sans-serif; color: var(--ink); background: var(--bg); }
  header { background: #fff; border-bottom: 1px solid var(--line); }
  .bar { max-width: 46rem; min-height: 3.6rem; margin: 0 auto; padding: .5rem 1rem; display: flex; gap: 1.25rem; align-items: center; }
  .brand { font-weight: 700; color: var(--brand); text-decoration: none; margin-right: .5rem; }
  a { color: var(--brand); }
  nav { display: flex; gap: 1rem; }
  nav a { color: var(--muted); text-decoration: none; }
  nav a:hover, .brand:hover { color: var(--ink); }
  nav a[aria-current="page"] { color: var(--ink); font-weight: 600; }
  .who { margin-left: auto; display: flex; gap: .75rem; align-items: center; color: var(--muted); }
  main { max-width: 46rem; margin: 1.5rem auto; padding: 0 1rem; }
  .card { background: #fff; border: 1px solid var(--line); border-radius: .5rem; padding: 1.25rem 1.5rem; margin-bottom: 1rem; }
  h1 { font-size: 1.5rem; margin: 0 0 .75rem; }
  h2 { font-size: 1.1rem; margin: 0 0 .5rem; }
  .flash { border-radius: .5rem; padding: .6rem 1rem; margin-bottom: 1rem; background: #e3f8e8; border: 1px solid #a3e0b3; }
  .flash.error { background: #fdecea; border-color: #f5b7b1; }
  label { display: block; font-weight: 600; margin: .75rem 0 .25rem; }
  input[type=text], textarea { width: 100%; padding: .5rem .6rem; border: 1px solid #cbd2d9; border-radius: .35rem; font: inherit; }
  button, .button { display: inline-block; margin-top: .9rem; padding: .45rem 1rem; border: 0; border-radius: .35rem; background: var(--brand); color: #fff; font: inherit; cursor: pointer; text-decoration: none; }
  .who button, button.secondary { margin: 0; padding: .25rem .7rem; background: #fff; color: var(--ink); border: 1px solid #cbd2d9; }
  button.secondary:hover, .who button:hover { border-color: var(--muted); }
  table { width: 100%; border-collapse: collapse; margin: .5rem 0 0; }
  th, td { text-align: left; padding: .55rem .5rem; border-bottom: 1px solid var(--line); vertical-align: middle; }
  th { color: var(--muted); font-weight: 600; font-size: .85rem; }
  td.action { text-align: right; white-space: nowrap; }
  .badge { display: inline-block; margin-left: .4rem; padding: 0 .45rem; border-radius: 1rem; background: #e3f8e8; color: #1e6b35; font-size: .8rem; font-weight: 600; }
  .visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip-path: inset(50%); white-space: nowrap; }
  .muted { color: var(--muted); }
  .count { font-size: 2.25rem; font-weight: 700; color: var(--brand); }
  dl { display: grid; grid-template-columns: max-content 1fr; gap: .35rem 1rem; margin: 0; }
  dt { color: var(--muted); }
  dd { margin: 0; }
  code { background: var(--bg); padding: .1rem .3rem; border-radius: .25rem; font-size: .9em; }
  footer { max-width: 46rem; margin: 0 auto 2rem; padding: 0 1rem; font-size: .85rem; color: var(--muted); }
`;

/** A constant of this file, so it goes in as it is (escaping would break its quotes). */
const STYLESHEET = new SafeHtml(STYLE);

function navLink(
  href: string,
  label: string,
  name: PageFrame['active'],
  active: PageFrame['active'],
) {
  return html`<a href="${href}" ${active === name ? html` aria-current="page"` : ''}>${label}</a>`;
}

/** The whole document: head with the inline stylesheet, nav, flash messages, content, footer. */
export function layout(frame: PageFrame, content: SafeHtml): string {
  const who = frame.user
    ? html`<span>Signed in as <strong data-testid="who">${frame.user}</strong></span>
        <form method="post" action="/logout">
          <input type="hidden" name="csrf_token" value="${frame.csrfToken ?? ''}" />
          <button type="submit">Log out</button>
        </form>`
    : navLink('/login', 'Log in', 'login', frame.active);
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>${frame.title} · Sessions sample</title>
        <link rel="icon" href="data:," />
        <style>
          ${STYLESHEET}
        </style>
      </head>
      <body>
        <header>
          <div class="bar">
            <a class="brand" href="/">Sessions sample</a>
            <nav>
              ${navLink('/', 'Home', 'home', frame.active)}
              ${
                frame.user
                  ? [
                      navLink('/profile', 'Profile', 'profile', frame.active),
                      navLink('/devices', 'Your devices', 'devices', frame.active),
                    ]
                  : ''
              }
            </nav>
            <div class="who">${who}</div>
          </div>
        </header>
        <main>
          ${(frame.notices ?? []).map((text) => html`<div class="flash" role="status">${text}</div>`)}
          ${(frame.errors ?? []).map((text) => html`<div class="flash error" role="alert">${text}</div>`)}
          ${content}
        </main>
        <footer>
          Server-side sessions by <code>nestjs-redis-sessions</code> · JSON for curl under
          <code>/api</code>
        </footer>
      </body>
    </html> `.markup;
}
