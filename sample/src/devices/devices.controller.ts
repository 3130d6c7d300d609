import { Controller, Get, Headers, UnauthorizedException, UseInterceptors } from '@nestjs/common';
import { createHash } from 'node:crypto';
import { Session, SessionService, type SessionData } from 'nestjs-redis-sessions';
import { PrivateResponseInterceptor } from '../private-response.interceptor.js';
import { devicesPage, type DeviceRow } from './devices.view.js';

/**
 * "Your devices": the sessions of the logged-in user. For now only the current one; listing the
 * user's other sessions (and signing them out) comes with sessions-by-user in the library.
 */
@Controller('devices')
@UseInterceptors(PrivateResponseInterceptor)
export class DevicesController {
  constructor(private readonly sessions: SessionService) {}

  @Get()
  list(@Session() session: SessionData, @Headers('user-agent') userAgent?: string) {
    if (!session.user) throw new UnauthorizedException();
    const current: DeviceRow = {
      label: createHash('sha256').update(this.sessions.getId(session)).digest('hex').slice(0, 8),
      userAgent: session.device?.userAgent ?? userAgent ?? 'unknown browser',
      signedInAt: session.device?.signedInAt ?? session.user.loggedInAt,
      current: true,
    };
    return devicesPage(
      {
        user: session.user.name,
        csrfToken: this.sessions.getCsrfToken(session),
        notices: this.sessions.popFlash<string>(session),
        errors: this.sessions.popFlash<string>(session, 'error'),
      },
      [current],
    );
  }
}
