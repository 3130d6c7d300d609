import type { INestApplication, LoggerService } from '@nestjs/common';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  chromium,
  type Browser,
  type BrowserContext,
  type Cookie,
  type Page,
  type Response,
} from 'playwright-core';
import { createSampleApp } from '../../sample/src/app.factory.js';
import { ADAPTERS, SECRET, type AdapterName } from '../utils/app.js';
import { startRedis, type RedisHandle } from '../utils/redis-server.js';

/**
 * A person uses the sample in a real browser (Debian's Chromium, driven by playwright-core; no
 * browser is ever downloaded), against a real redis-server this spec starts: the pages, the
 * cookie the browser keeps, and what Redis holds at each step, the per-user index behind
 * "Your devices" included. Other devices are other browser contexts (their own cookie jars and
 * user agents). On Express it also takes the README's screenshots, docs/sample.png (home after
 * login) and docs/devices.png (two devices).
 */

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const SCREENSHOT = fileURLToPath(new URL('../../docs/sample.png', import.meta.url));
const DEVICES_SCREENSHOT = fileURLToPath(new URL('../../docs/devices.png', import.meta.url));
/** The other devices Jane signs in from: their own browser contexts, cookies and user agents. */
const IPHONE_SAFARI =
  'Mozilla/5.0 (iPhone; CPU iPhone OS 18_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.5 Mobile/15E148 Safari/604.1';
const WINDOWS_FIREFOX =
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:140.0) Gecko/20100101 Firefox/140.0';

async function launchChromium(): Promise<Browser> {
  const hint = 'install it with `apt-get install chromium` (this test never downloads a browser)';
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium is not at ${CHROMIUM}: ${hint}`);
  try {
    return await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  } catch (error) {
    const reason = (error as Error).message;
    throw new Error(`Chromium at ${CHROMIUM} did not start (${reason}): ${hint}`, { cause: error });
  }
}

/** Keeps the app's log lines out of the test output; the walk asserts that none is an error. */
class CapturedLog implements LoggerService {
  readonly lines: { level: string; message: string }[] = [];
  log = (message: unknown) => this.keep('log', message);
  warn = (message: unknown) => this.keep('warn', message);
  error = (message: unknown, ...rest: unknown[]) =>
    this.keep('error', [message, ...rest].join(' '));
  debug = (message: unknown) => this.keep('debug', message);
  verbose = (message: unknown) => this.keep('verbose', message);
  private keep(level: string, message: unknown): void {
    this.lines.push({ level, message: String(message) });
  }
}

/** The session id inside the cookie value `<id>.<signature>`. */
function idOf(cookie: Cookie): string {
  return decodeURIComponent(cookie.value).split('.')[0];
}

describe('a person walks through the sample in Chromium', () => {
  let browser: Browser;
  let redis: RedisHandle;

  beforeAll(async () => {
    browser = await launchChromium();
    redis = await startRedis();
  });

  afterAll(async () => {
    await browser?.close();
    await redis?.stop();
  });

  describe.each(ADAPTERS)('on %s', (adapter: AdapterName) => {
    const log = new CapturedLog();
    const prefix = () => `${redis.prefix}${adapter}:`;
    let app: INestApplication;
    let base: string;
    let context: BrowserContext;
    let page: Page;
    const pageProblems: string[] = [];
    /** Every browser context of the walk (Jane's other devices too), closed after it. */
    const contexts: BrowserContext[] = [];

    /** A new browser (its own cookie jar) with one page, whose script and CSP errors are kept. */
    const openBrowser = async (options: { userAgent?: string } = {}) => {
      const opened = await browser.newContext({
        viewport: { width: 960, height: 600 },
        ...options,
      });
      contexts.push(opened);
      const tab = await opened.newPage();
      // A blocked stylesheet (CSP) or a script error would show here; error statuses of the
      // documents themselves (401, 403) are expected and carry no information.
      tab.on('pageerror', (error) => pageProblems.push(error.message));
      tab.on('console', (message) => {
        if (message.type() === 'error' && !message.text().startsWith('Failed to load resource'))
          pageProblems.push(message.text());
      });
      return { context: opened, page: tab };
    };

    beforeAll(async () => {
      app = await createSampleApp(
        adapter,
        {
          settings: {
            REDIS_SESSIONS_SECRET: SECRET,
            REDIS_SESSIONS_URL: redis.url,
            REDIS_SESSIONS_PREFIX: prefix(),
          },
        },
        { logger: log },
      );
      await app.listen(0, '127.0.0.1');
      base = `http://127.0.0.1:${(app.getHttpServer().address() as { port: number }).port}`;
      ({ context, page } = await openBrowser());
    });

    afterAll(async () => {
      for (const opened of contexts) await opened.close();
      await app?.close();
    });

    const sessionCookie = async (of: BrowserContext = context): Promise<Cookie> => {
      const cookies = (await of.cookies(base)).filter((c) => c.name === 'session');
      expect(cookies).toHaveLength(1);
      return cookies[0];
    };
    const fields = (id: string) => redis.client.hgetall(prefix() + id);
    const exists = async (id: string) => (await redis.client.exists(prefix() + id)) === 1;
    /** The per-user index (a sorted set of session ids) behind "Your devices". */
    const userIndex = () => `${prefix()}user:jane`;
    const indexed = async () => (await redis.client.zrange(userIndex(), '0', '-1')).sort();
    const text = async (selector: string, on: Page = page) =>
      (await on.textContent(selector))?.trim();
    /** Clicks and waits for the response to the POST it sends and for the page it leads to. */
    const submit = async (
      click: () => Promise<void>,
      action: string,
      on: Page = page,
    ): Promise<Response> => {
      const [response] = await Promise.all([
        on.waitForResponse((r) => r.request().method() === 'POST' && r.url() === base + action),
        click(),
      ]);
      await on.waitForLoadState('load');
      return response;
    };
    /** Logs a browser in with the form, as a person would: PRG to the home page. */
    const logIn = async (on: Page, name: string) => {
      await on.goto(`${base}/login`);
      await on.getByLabel('Your name').fill(name);
      const response = await submit(
        () => on.getByRole('button', { name: 'Log in' }).click(),
        '/login',
        on,
      );
      expect(response.status()).toBe(303);
      expect(on.url()).toBe(`${base}/`);
      expect(await text('[data-testid=who]', on)).toBe(name);
    };
    /** The rows of "Your devices": the device, its IP, and whether it is the browser looking. */
    const deviceRows = async (on: Page = page) => {
      const rows: { device: string; ip: string; current: boolean }[] = [];
      for (const row of await on.locator('[data-testid=device]').all()) {
        const cell = async (n: number) =>
          (await row.locator('td').nth(n).innerText()).replace(/\s+/g, ' ').trim();
        rows.push({
          device: await cell(0),
          ip: await cell(1),
          current: (await row.getAttribute('data-current')) !== null,
        });
      }
      return rows;
    };
    const signOutButton = (device: string) =>
      page
        .locator('[data-testid=device]', { hasText: device })
        .getByRole('button', { name: 'Sign out' });

    it('logs in, counts, signs other devices out, edits the profile, is refused a tampered form, logs out, and Back shows nothing private', async () => {
      // 1. Home, as a visitor: the visit counter starts a session.
      const home = await page.goto(`${base}/`);
      expect(home?.status()).toBe(200);
      expect(await text('main h1')).toBe('Welcome');
      expect(await text('[data-testid=visits]')).toBe('1');
      expect(await page.evaluate('getComputedStyle(document.body).backgroundColor')).toBe(
        'rgb(245, 247, 250)', // the inline stylesheet applies under the sample's CSP…
      );
      expect(await page.evaluate('getComputedStyle(document.body).fontFamily')).toContain('Arial'); // …unescaped
      const visitor = await sessionCookie();
      expect(visitor).toMatchObject({
        httpOnly: true,
        sameSite: 'Lax',
        path: '/',
        secure: false,
        expires: -1, // a browser-session cookie: no Max-Age by default
      });
      expect(await fields(idOf(visitor))).toMatchObject({ visits: '1' });

      // 2. The login form (PRG: POST, 303, GET /), the Welcome flash, a new session id.
      await page.locator('header').getByRole('link', { name: 'Log in' }).click();
      await page.waitForURL(`${base}/login`);
      await page.getByLabel('Your name').fill('Jane');
      const login = await submit(
        () => page.getByRole('button', { name: 'Log in' }).click(),
        '/login',
      );
      expect(login.status()).toBe(303);
      expect(page.url()).toBe(`${base}/`);
      expect(await text('[role=status]')).toBe('Welcome, Jane');
      expect(await text('[data-testid=who]')).toBe('Jane');
      expect(await text('[data-testid=visits]')).toBe('2');
      const member = await sessionCookie();
      expect(member).toMatchObject({ httpOnly: true, sameSite: 'Lax', path: '/', secure: false });
      expect(idOf(member)).not.toBe(idOf(visitor));
      expect(await exists(idOf(visitor))).toBe(false);
      const stored = await fields(idOf(member));
      expect(JSON.parse(stored.user)).toMatchObject({ name: 'Jane' });
      expect(stored.visits).toBe('2');
      // Bound to the user by sessionService.login, with the metadata "Your devices" shows.
      expect(JSON.parse(stored.$u)).toBe('jane');
      expect(JSON.parse(stored.$g)).toContain('Chrome');
      expect(JSON.parse(stored.$i)).toBe('127.0.0.1');
      expect(await redis.client.type(userIndex())).toBe('zset');
      expect(await indexed()).toEqual([idOf(member)]); // the visitor's session was no one's
      expect(stored.$x).toMatch(/^"?[A-Za-z0-9_-]{43}"?$/); // the (rotated) CSRF token
      expect(Object.keys(stored).filter((f) => f.startsWith('$f:'))).toEqual([]); // flash shown, gone
      const ttl = await redis.client.pttl(prefix() + idOf(member));
      expect(ttl).toBeGreaterThan(0);
      // The 20-minute idle timeout plus the default touch_interval slack (60 s).
      expect(ttl).toBeLessThanOrEqual(1260_000);
      if (adapter === 'express') {
        mkdirSync(dirname(SCREENSHOT), { recursive: true });
        await page.screenshot({ path: SCREENSHOT, fullPage: true });
      }

      // 3. Reload: the flash is gone, the counter goes on.
      await page.reload();
      expect(await page.locator('[role=status]').count()).toBe(0);
      expect(await text('[data-testid=visits]')).toBe('3');

      // 4. Your devices: this browser, the only one so far.
      await page.getByRole('navigation').getByRole('link', { name: 'Your devices' }).click();
      await page.waitForURL(`${base}/devices`);
      expect(await deviceRows()).toEqual([
        { device: 'Chrome on Linux This browser', ip: '127.0.0.1', current: true },
      ]);
      expect(await page.locator('[data-testid=only-device]').count()).toBe(1);
      expect(await page.getByRole('button', { name: 'Sign out everywhere else' }).count()).toBe(0);

      // 5. A second device: Jane logs in on her iPhone (another browser context, its own cookie).
      const iphone = await openBrowser({ userAgent: IPHONE_SAFARI });
      await logIn(iphone.page, 'jane'); // the same user: names are compared ignoring case
      const phone = idOf(await sessionCookie(iphone.context));
      expect(await indexed()).toEqual([idOf(member), phone].sort());
      await iphone.page.goto(`${base}/devices`);
      expect(await deviceRows(iphone.page)).toEqual([
        { device: 'Chrome on Linux', ip: '127.0.0.1', current: false },
        { device: 'Safari on iPhone This browser', ip: '127.0.0.1', current: true },
      ]);

      // 6. The first browser sees both, oldest first, and signs the iPhone out.
      await page.reload();
      expect(await deviceRows()).toEqual([
        { device: 'Chrome on Linux This browser', ip: '127.0.0.1', current: true },
        { device: 'Safari on iPhone', ip: '127.0.0.1', current: false },
      ]);
      expect(await signOutButton('Chrome on Linux').count()).toBe(0); // not this browser's own
      // Signed in, last seen: relative times, so the screenshot reads the same on every run.
      expect(await page.locator('[data-testid=device] time').allInnerTexts()).toEqual(
        Array(4).fill('just now'),
      );
      if (adapter === 'express')
        await page.screenshot({ path: DEVICES_SCREENSHOT, fullPage: true });
      const revoked = await submit(
        () => signOutButton('Safari on iPhone').click(),
        '/devices/revoke',
      );
      expect(revoked.status()).toBe(303);
      expect(page.url()).toBe(`${base}/devices`);
      expect(await text('[role=status]')).toBe('Signed out one device');
      expect(await deviceRows()).toEqual([
        { device: 'Chrome on Linux This browser', ip: '127.0.0.1', current: true },
      ]);
      expect(await exists(phone)).toBe(false);
      expect(await exists(idOf(member))).toBe(true);
      expect(await indexed()).toEqual([idOf(member)]);

      // 7. The iPhone's next page load: logged out. Its cookie names a session that is gone.
      const phoneReload = await iphone.page.reload();
      expect(phoneReload?.status()).toBe(401);
      expect(await text('main h1', iphone.page)).toBe('Please log in');
      expect(await iphone.page.locator('[data-testid=who]').count()).toBe(0);
      expect(idOf(await sessionCookie(iphone.context))).toBe(phone); // nothing new was written
      await iphone.page.goto(`${base}/`);
      expect(await text('main h1', iphone.page)).toBe('Welcome');
      const phoneVisitor = idOf(await sessionCookie(iphone.context));
      expect(phoneVisitor).not.toBe(phone);
      expect(await fields(phoneVisitor)).toEqual(
        expect.not.objectContaining({ $u: expect.anything(), user: expect.anything() }),
      );

      // 8. Two more devices (the iPhone again, and a Windows laptop), then "Sign out everywhere
      // else" from the first browser.
      await logIn(iphone.page, 'Jane');
      const phoneAgain = idOf(await sessionCookie(iphone.context));
      const laptop = await openBrowser({ userAgent: WINDOWS_FIREFOX });
      await logIn(laptop.page, 'JANE');
      const laptopId = idOf(await sessionCookie(laptop.context));
      expect(await indexed()).toEqual([idOf(member), phoneAgain, laptopId].sort());
      await page.reload();
      expect((await deviceRows()).map((row) => row.device)).toEqual([
        'Chrome on Linux This browser',
        'Safari on iPhone',
        'Firefox on Windows',
      ]);
      const everywhere = await submit(
        () => page.getByRole('button', { name: 'Sign out everywhere else' }).click(),
        '/devices/revoke-others',
      );
      expect(everywhere.status()).toBe(303);
      expect(page.url()).toBe(`${base}/devices`);
      expect(await text('[role=status]')).toBe('Signed out 2 other devices');
      expect(await deviceRows()).toEqual([
        { device: 'Chrome on Linux This browser', ip: '127.0.0.1', current: true },
      ]);
      expect(await exists(phoneAgain)).toBe(false);
      expect(await exists(laptopId)).toBe(false);
      expect(await exists(idOf(member))).toBe(true);
      expect(await indexed()).toEqual([idOf(member)]);
      for (const other of [iphone, laptop]) {
        await other.page.reload();
        expect(await text('main h1', other.page)).toBe('Welcome');
        expect(await other.page.locator('[data-testid=who]').count()).toBe(0);
      }
      expect(await indexed()).toEqual([idOf(member)]); // their new visitor sessions are no one's
      await iphone.context.close();
      await laptop.context.close();

      // 9. The profile form, with its hidden token.
      await page.getByRole('navigation').getByRole('link', { name: 'Profile' }).click();
      await page.waitForURL(`${base}/profile`);
      await page.getByLabel('Bio').fill('Hello from Chromium');
      const saved = await submit(
        () => page.getByRole('button', { name: 'Save' }).click(),
        '/profile',
      );
      expect(saved.status()).toBe(303);
      expect(page.url()).toBe(`${base}/profile`);
      expect(await text('[role=status]')).toBe('Profile saved.');
      expect(await text('[data-testid=bio]')).toBe('Hello from Chromium');
      expect(JSON.parse((await fields(idOf(member))).user).bio).toBe('Hello from Chromium');

      // 10. The same form with its hidden token edited in the page: refused, with a page.
      await page
        .locator('form[action="/profile"] input[name=csrf_token]')
        .evaluate((input) => ((input as unknown as { value: string }).value = 'tampered'));
      await page.getByLabel('Bio').fill('Tampered bio');
      const refused = await submit(
        () => page.getByRole('button', { name: 'Save' }).click(),
        '/profile',
      );
      expect(refused.status()).toBe(403);
      expect(await text('main h1')).toBe('This form has expired');
      expect(await text('[data-testid=who]')).toBe('Jane'); // still logged in, nothing changed
      expect(JSON.parse((await fields(idOf(member))).user).bio).toBe('Hello from Chromium');

      // 11. Back to the profile, then log out (the button's form carries the token too).
      await page.getByRole('link', { name: 'Open the form again' }).click();
      await page.waitForURL(`${base}/profile`);
      expect(await text('[data-testid=bio]')).toBe('Hello from Chromium');
      const logout = await submit(
        () => page.getByRole('button', { name: 'Log out' }).click(),
        '/logout',
      );
      expect(logout.status()).toBe(303);
      expect(page.url()).toBe(`${base}/`);
      expect(await text('[role=status]')).toBe('You are logged out.');
      expect(await text('main h1')).toBe('Welcome');
      expect(await exists(idOf(member))).toBe(false);
      expect(await redis.client.exists(userIndex())).toBe(0); // its last entry went with it
      const after = await sessionCookie();
      expect(idOf(after)).not.toBe(idOf(member));
      expect(await fields(idOf(after))).toEqual(
        expect.not.objectContaining({ user: expect.anything() }),
      );

      // 12. Back: the profile is asked for again (no-store) and the server says "please log in".
      const back = await page.goBack();
      expect(page.url()).toBe(`${base}/profile`);
      expect(back?.status()).toBe(401);
      expect(await text('main h1')).toBe('Please log in');
      const body = (await page.textContent('body')) ?? '';
      expect(body).not.toContain('Jane');
      expect(body).not.toContain('Hello from Chromium');
      expect(await page.getByRole('link', { name: 'Log in' }).first().getAttribute('href')).toBe(
        '/login',
      );

      expect(pageProblems).toEqual([]);
      expect(log.lines.filter((line) => line.level === 'error')).toEqual([]);
    });
  });
});
