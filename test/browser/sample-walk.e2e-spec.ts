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
 * cookie the browser keeps, and what Redis holds at each step.
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
      context = await browser.newContext({ viewport: { width: 960, height: 600 } });
      page = await context.newPage();
      // A blocked stylesheet (CSP) or a script error would show here; error statuses of the
      // documents themselves (401, 403) are expected and carry no information.
      page.on('pageerror', (error) => pageProblems.push(error.message));
      page.on('console', (message) => {
        if (message.type() === 'error' && !message.text().startsWith('Failed to load resource'))
          pageProblems.push(message.text());
      });
    });

    afterAll(async () => {
      await context?.close();
      await app?.close();
    });

    const sessionCookie = async (): Promise<Cookie> => {
      const cookies = (await context.cookies(base)).filter((c) => c.name === 'session');
      expect(cookies).toHaveLength(1);
      return cookies[0];
    };
    const fields = (id: string) => redis.client.hgetall(prefix() + id);
    const exists = async (id: string) => (await redis.client.exists(prefix() + id)) === 1;
    const text = async (selector: string) => (await page.textContent(selector))?.trim();
    /** Clicks and waits for the response to the POST it sends and for the page it leads to. */
    const submit = async (click: () => Promise<void>, action: string): Promise<Response> => {
      const [response] = await Promise.all([
        page.waitForResponse((r) => r.request().method() === 'POST' && r.url() === base + action),
        click(),
      ]);
      await page.waitForLoadState('load');
      return response;
    };

    it('logs in, counts, edits the profile, is refused a tampered form, logs out, and Back shows nothing private', async () => {
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
      expect(JSON.parse(stored.device).userAgent).toContain('Chrome');
      expect(stored.$x).toMatch(/^"?[A-Za-z0-9_-]{43}"?$/); // the (rotated) CSRF token
      expect(Object.keys(stored).filter((f) => f.startsWith('$f:'))).toEqual([]); // flash shown, gone
      const ttl = await redis.client.pttl(prefix() + idOf(member));
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(1200_000);
      if (adapter === 'express') {
        mkdirSync(dirname(SCREENSHOT), { recursive: true });
        await page.screenshot({ path: SCREENSHOT, fullPage: true });
      }

      // 3. Reload: the flash is gone, the counter goes on.
      await page.reload();
      expect(await page.locator('[role=status]').count()).toBe(0);
      expect(await text('[data-testid=visits]')).toBe('3');

      // 4. Your devices: this browser, for now the only one.
      await page.getByRole('navigation').getByRole('link', { name: 'Your devices' }).click();
      await page.waitForURL(`${base}/devices`);
      expect(await page.locator('[data-testid=device]').count()).toBe(1);
      expect(await text('[data-testid=device] h2')).toMatch(/^This browser/);

      // 5. The profile form, with its hidden token.
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

      // 6. The same form with its hidden token edited in the page: refused, with a page.
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

      // 7. Back to the profile, then log out (the button's form carries the token too).
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
      const after = await sessionCookie();
      expect(idOf(after)).not.toBe(idOf(member));
      expect(await fields(idOf(after))).toEqual(
        expect.not.objectContaining({ user: expect.anything() }),
      );

      // 8. Back: the profile is asked for again (no-store) and the server says "please log in".
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
