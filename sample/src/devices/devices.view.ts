import { html } from '../views/html.js';
import { layout, type PageFrame } from '../views/layout.js';

/** One signed-in session as the page lists it. */
export interface DeviceRow {
  /** A short, non-secret label derived from the session id (never the id itself). */
  label: string;
  userAgent: string;
  signedInAt: string;
  current: boolean;
}

export function devicesPage(
  frame: Omit<PageFrame, 'title' | 'active'>,
  devices: DeviceRow[],
): string {
  return layout(
    { ...frame, title: 'Your devices', active: 'devices' },
    html`<section class="card">
      <h1>Your devices</h1>
      <p class="muted">Where you are signed in.</p>
      ${devices.map(
        (device) =>
          html`<div class="card" data-testid="device">
            <h2>
              ${device.current ? 'This browser' : 'Another browser'}
              <span class="muted">· session ${device.label}</span>
            </h2>
            <dl>
              <dt>Browser</dt>
              <dd>${device.userAgent}</dd>
              <dt>Signed in</dt>
              <dd>
                ${new Date(device.signedInAt).toLocaleString('en-GB', { dateStyle: 'medium', timeStyle: 'short' })}
              </dd>
            </dl>
          </div>`,
      )}
      <p class="muted">
        Sessions on your other devices will be listed here too, each with a button to sign it out.
      </p>
    </section>`,
  );
}
