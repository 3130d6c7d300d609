import { html, type SafeHtml } from './html.js';
import { layout, type PageFrame } from './layout.js';

/** What a person is told for an error status, and where they can go from there. */
function explain(status: number, path: string): { title: string; body: SafeHtml } {
  const formPage =
    ['/profile', '/devices', '/login'].find(
      (page) => path === page || path.startsWith(`${page}/`),
    ) ?? '/';
  switch (status) {
    case 401:
      return {
        title: 'Please log in',
        body: html`<p>
            This page is only for logged-in users, and this browser is not logged in (or its session
            has ended).
          </p>
          <p><a class="button" href="/login">Log in</a></p>`,
      };
    case 403:
      return {
        title: 'This form has expired',
        body: html`<p>
            The form was sent without this session's security token, or with one that does not
            match, so nothing was changed. This happens when a form stayed open while you logged in
            or out elsewhere, when the sample restarted, or when another site tried to post it.
          </p>
          <p><a class="button" href="${formPage}">Open the form again</a></p>`,
      };
    case 404:
      return {
        title: 'Page not found',
        body: html`<p>There is no page at <code>${path}</code>.</p>
          <p><a href="/">Home</a></p>`,
      };
    case 503:
      return {
        title: 'Sessions are unavailable',
        body: html`<p>
          The session store (Redis) does not answer right now. Try again in a moment: the sample
          reconnects by itself.
        </p>`,
      };
    default:
      return status < 500
        ? {
            title: 'That did not work',
            body: html`<p>The request could not be handled (${status}).</p>
              <p><a href="/">Home</a></p>`,
          }
        : {
            title: 'Something went wrong',
            body: html`<p>An error happened on the server; it has been logged.</p>
              <p><a href="/">Home</a></p>`,
          };
  }
}

/** The HTML page for an error status, with who is logged in (when known) in the nav. */
export function errorPage(
  status: number,
  path: string,
  frame: Pick<PageFrame, 'user' | 'csrfToken'> = {},
): string {
  const { title, body } = explain(status, path);
  return layout(
    { ...frame, title },
    html`<section class="card" data-status="${status}">
      <h1>${title}</h1>
      ${body}
      <p class="muted">Error ${status}</p>
    </section>`,
  );
}
