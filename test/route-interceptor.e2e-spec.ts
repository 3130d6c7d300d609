import { Controller, Get, UseGuards } from '@nestjs/common';
import { Session, UseSession, type SessionData } from '../src/index.js';
import { SessionReadingGuard } from './app/session-test.controller.js';
import { ADAPTERS, cookieOf, setCookies } from './utils/app.js';
import { sessionBed, type SessionBed } from './utils/sessions.js';

@UseSession()
@Controller('with')
class WithSessionController {
  @Get('write')
  write(@Session() session: SessionData) {
    session.n = ((session.n as number | undefined) ?? 0) + 1;
    return { n: session.n };
  }

  @Get('guarded')
  @UseGuards(SessionReadingGuard)
  guarded() {
    return { ok: true };
  }
}

@Controller('without')
class WithoutSessionController {
  @Get('none')
  none() {
    return { ok: true };
  }

  @Get('count')
  count(@Session() session: SessionData) {
    session.n = ((session.n as number | undefined) ?? 0) + 1;
    return { n: session.n };
  }
}

/** `globalInterceptor: false`: only routes that carry @UseSession() run the session interceptor. */
describe.each(ADAPTERS)('globalInterceptor: false on %s', (adapter) => {
  let bed: SessionBed;

  beforeAll(async () => {
    bed = await sessionBed(
      adapter,
      { globalInterceptor: false },
      {
        metadata: {
          controllers: [WithSessionController, WithoutSessionController],
          providers: [SessionReadingGuard],
        },
      },
    );
  });

  afterAll(async () => {
    await bed?.close();
  });

  it('loads and commits on routes with @UseSession()', async () => {
    const cookie = cookieOf(await bed.http().get('/with/write').expect(200, { n: 1 }));
    await bed.http().get('/with/write').set('Cookie', cookie).expect(200, { n: 2 });
    await bed.http().get('/with/guarded').set('Cookie', cookie).expect(200);
  });

  it('leaves other routes alone', async () => {
    const res = await bed.http().get('/without/none').expect(200, { ok: true });
    expect(setCookies(res)).toEqual([]);
  });

  it('gives @Session() its session without @UseSession(), and commits it at the response', async () => {
    const cookie = cookieOf(await bed.http().get('/without/count').expect(200, { n: 1 }));
    await bed.http().get('/without/count').set('Cookie', cookie).expect(200, { n: 2 });
  });
});
