import type { SessionData } from 'nestjs-redis-sessions';
import { MAX_BIO, MAX_NAME } from '../account/account.service.js';
import { html } from '../views/html.js';
import { layout, type PageFrame } from '../views/layout.js';
import { since, time } from '../views/time.js';

type Frame = Omit<PageFrame, 'title' | 'active'>;
type User = NonNullable<SessionData['user']>;

export function homePage(frame: Frame, user: User | undefined, visits: number): string {
  const who = user
    ? html`<h1>Hello, ${user.name}</h1>
        <p>
          You logged in ${since(user.loggedInAt)}. Your <a href="/profile">profile</a> is private to
          this session; <a href="/devices">Your devices</a> lists every browser signed in as you,
          and signs them out.
        </p>`
    : html`<h1>Welcome</h1>
        <p>You are not logged in. <a class="button" href="/login">Log in</a></p>
        <p class="muted">Any name will do: this sample has no passwords.</p>`;
  return layout(
    { ...frame, title: 'Home', active: 'home' },
    html`<section class="card">${who}</section>
      <section class="card">
        <h2>Visits</h2>
        <p>
          <span class="count" data-testid="visits">${visits}</span>
          ${visits === 1 ? 'visit' : 'visits'} to this page in this session.
        </p>
        <p class="muted">
          Reload to count one more. The count lives in the session, on the server: the browser only
          holds a signed id in an HttpOnly cookie.
        </p>
      </section>`,
  );
}

export function loginPage(frame: Frame, csrfToken: string, user: User | undefined): string {
  return layout(
    { ...frame, title: 'Log in', active: 'login' },
    html`<section class="card">
      <h1>Log in</h1>
      ${user ? html`<p>You are logged in as <strong>${user.name}</strong>; log in again to switch.</p>` : ''}
      <form method="post" action="/login">
        <input type="hidden" name="csrf_token" value="${csrfToken}" />
        <label for="name">Your name</label>
        <input
          type="text"
          id="name"
          name="name"
          maxlength="${MAX_NAME}"
          required
          autofocus
          autocomplete="username"
        />
        <button type="submit">Log in</button>
      </form>
      <p class="muted">
        No password: any name logs in, and the same name (in any case) in another browser is the
        same user, listed under Your devices. Logging in gives the session a new id, so a cookie
        planted before it is worth nothing after.
      </p>
    </section>`,
  );
}

export function profilePage(frame: Frame, csrfToken: string, user: User, visits: number): string {
  return layout(
    { ...frame, title: 'Profile', active: 'profile' },
    html`<section class="card">
        <h1>${user.name}</h1>
        <dl>
          <dt>Logged in</dt>
          <dd>${time(user.loggedInAt)}</dd>
          <dt>Visits</dt>
          <dd>${visits}</dd>
          <dt>Bio</dt>
          <dd data-testid="bio">
            ${user.bio ? user.bio : html`<span class="muted">none yet</span>`}
          </dd>
        </dl>
      </section>
      <section class="card">
        <h2>Edit your bio</h2>
        <form method="post" action="/profile">
          <input type="hidden" name="csrf_token" value="${csrfToken}" />
          <label for="bio">Bio</label>
          <textarea id="bio" name="bio" rows="3" maxlength="${MAX_BIO}">${user.bio ?? ''}</textarea>
          <button type="submit">Save</button>
        </form>
        <p class="muted">
          The form carries a hidden <code>csrf_token</code>; a form posted without the session's
          token is refused with 403.
        </p>
      </section>`,
  );
}
