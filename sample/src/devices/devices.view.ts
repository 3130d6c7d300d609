import type { UserSessionInfo } from 'nestjs-redis-sessions';
import { html } from '../views/html.js';
import { layout, type PageFrame } from '../views/layout.js';
import { since, time } from '../views/time.js';
import { describeUserAgent } from './user-agent.js';

/** A relative time ("just now"), with the date and time on hover and for machines. */
function when(ms: number) {
  const iso = new Date(ms).toISOString();
  return html`<time datetime="${iso}" title="${time(ms)}">${since(ms)}</time>`;
}

/** An IPv4 address as people write it (Node gives `::ffff:1.2.3.4` on dual-stack sockets). */
function address(ip: string | undefined) {
  return ip
    ? ip.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, '')
    : html`<span class="muted">unknown</span>`;
}

function row(device: UserSessionInfo, csrfToken: string) {
  const action = device.current
    ? html`<span class="muted">you are here</span>`
    : html`<form method="post" action="/devices/revoke">
        <input type="hidden" name="csrf_token" value="${csrfToken}" />
        <input type="hidden" name="handle" value="${device.handle}" />
        <button type="submit" class="secondary">Sign out</button>
      </form>`;
  return html`<tr data-testid="device" ${device.current ? html`data-current` : ''}>
    <td>
      <span title="${device.userAgent ?? ''}">${describeUserAgent(device.userAgent)}</span>
      ${device.current ? html`<span class="badge">This browser</span>` : ''}
    </td>
    <td>${address(device.ip)}</td>
    <td>${when(device.createdAt)}</td>
    <td>${when(device.lastSeenAt)}</td>
    <td class="action">${action}</td>
  </tr>`;
}

export function devicesPage(
  frame: Omit<PageFrame, 'title' | 'active'> & { csrfToken: string },
  devices: UserSessionInfo[],
): string {
  const others = devices.filter((device) => !device.current).length;
  return layout(
    { ...frame, title: 'Your devices', active: 'devices' },
    html`<section class="card">
      <h1>Your devices</h1>
      <p class="muted">
        Every browser signed in as you, oldest first. Signing one out ends its session at once: its
        next page asks it to log in again.
      </p>
      <table>
        <thead>
          <tr>
            <th scope="col">Device</th>
            <th scope="col">IP address</th>
            <th scope="col">Signed in</th>
            <th scope="col">Last seen</th>
            <th scope="col"><span class="visually-hidden">Action</span></th>
          </tr>
        </thead>
        <tbody>
          ${devices.map((device) => row(device, frame.csrfToken))}
        </tbody>
      </table>
      ${
        others > 0
          ? html`<form method="post" action="/devices/revoke-others">
              <input type="hidden" name="csrf_token" value="${frame.csrfToken}" />
              <button type="submit">Sign out everywhere else</button>
            </form>`
          : html`<p class="muted" data-testid="only-device">
              This is the only browser signed in as you. Log in with the same name in another
              browser (or a private window) to see it here.
            </p>`
      }
    </section>`,
  );
}
