import { inspect } from 'node:util';
import { InvalidSessionOptionsError } from '../session.errors.js';
import { SESSION_SETTING_NAMES, sessionOptionsFromSettings } from './session-settings.js';

const SECRET = 's'.repeat(32);

function problemsOf(settings: Record<string, unknown>, prefix?: string): string[] {
  try {
    sessionOptionsFromSettings(settings, prefix);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidSessionOptionsError);
    return (error as InvalidSessionOptionsError).problems;
  }
  throw new Error('expected an error');
}

describe('sessionOptionsFromSettings', () => {
  it('reads the dotted form and coerces every kind of value', () => {
    const options = sessionOptionsFromSettings({
      'redis.sessions.secret': SECRET,
      'redis.sessions.old_secrets': `${'a'.repeat(32)}, ${'b'.repeat(32)}`,
      'redis.sessions.timeout': '60',
      'redis.sessions.absolute_timeout': '3600',
      'redis.sessions.cookie_secure': 'auto',
      'redis.sessions.cookie_httponly': 'false',
      'redis.sessions.cookie_samesite': 'Strict',
      'redis.sessions.cookie_on_exception': 'no',
      'redis.sessions.socket_timeout': '0.5',
      'redis.sessions.sentinels': 'a:26379, b:26380',
      'redis.sessions.sentinel_name': 'mymaster',
      'redis.sessions.max_size': '4096',
      unrelated: 'ignored',
    });
    expect(options).toEqual({
      secret: SECRET,
      oldSecrets: ['a'.repeat(32), 'b'.repeat(32)],
      timeout: 60,
      absoluteTimeout: 3600,
      cookie: { secure: 'auto', httpOnly: false, sameSite: 'strict' },
      cookieOnException: false,
      maxSize: 4096,
      redis: {
        socketTimeout: 0.5,
        sentinels: [
          { host: 'a', port: 26379 },
          { host: 'b', port: 26380 },
        ],
        sentinelName: 'mymaster',
      },
    });
  });

  it('reads the environment form of the same settings, so process.env can be passed as is', () => {
    const options = sessionOptionsFromSettings({
      REDIS_SESSIONS_SECRET: SECRET,
      REDIS_SESSIONS_COOKIE_NAME: 'sid',
      REDIS_SESSIONS_PORT: '6380',
      REDIS_SESSIONS_CLUSTER_NODES: '127.0.0.1:7000,127.0.0.1:7001',
      REDIS_SESSIONS_COOKIE_DOMAIN: '',
      PATH: '/usr/bin',
    });
    expect(options).toEqual({
      secret: SECRET,
      cookie: { name: 'sid' },
      redis: {
        port: 6380,
        clusterNodes: [
          { host: '127.0.0.1', port: 7000 },
          { host: '127.0.0.1', port: 7001 },
        ],
      },
    });
  });

  it('derives the environment form of a custom prefix', () => {
    expect(sessionOptionsFromSettings({ 'my.app.secret': SECRET }, 'my.app.')).toEqual({
      secret: SECRET,
    });
    expect(sessionOptionsFromSettings({ MY_APP_SECRET: SECRET }, 'my.app.')).toEqual({
      secret: SECRET,
    });
  });

  it('throws one error that names every bad, unknown or missing setting', () => {
    const problems = problemsOf({
      'redis.sessions.timeout': 'soon',
      'redis.sessions.cookie_secure': 'maybe',
      'redis.sessions.cookie_samesite': 'loose',
      'redis.sessions.port': '70000',
      'redis.sessions.cookie_name': 'bad name',
      REDIS_SESSIONS_COLOR: 'blue',
    });
    const text = problems.join('\n');
    expect(text).toContain('REDIS_SESSIONS_SECRET (redis.sessions.secret) is required');
    expect(text).toContain('redis.sessions.timeout must be a whole number, got "soon"');
    expect(text).toContain('redis.sessions.cookie_secure must be true, false or auto');
    expect(text).toContain('redis.sessions.cookie_samesite must be lax, strict, none or false');
    expect(text).toContain('redis.sessions.port must not be greater than 65535');
    expect(text).toContain('redis.sessions.cookie_name must be a cookie-name token');
    expect(text).toContain('REDIS_SESSIONS_COLOR is not a known setting');
    expect(problems.filter((p) => p.startsWith('redis.sessions.timeout'))).toHaveLength(1);
  });

  it('rejects a secret shorter than 32 characters and short old secrets', () => {
    const problems = problemsOf({
      REDIS_SESSIONS_SECRET: 'short',
      REDIS_SESSIONS_OLD_SECRETS: 'tiny',
    });
    expect(problems.join('\n')).toMatch(
      /^REDIS_SESSIONS_SECRET must be at least 32 characters \(make one with: node -e/m,
    );
    expect(problems.join('\n')).toMatch(/REDIS_SESSIONS_OLD_SECRETS each must be at least 32/);
  });

  it('enforces __Host- and __Secure- cookie rules and SameSite=None without Secure', () => {
    const host = problemsOf({
      REDIS_SESSIONS_SECRET: SECRET,
      REDIS_SESSIONS_COOKIE_NAME: '__Host-sid',
      REDIS_SESSIONS_COOKIE_DOMAIN: 'example.com',
      REDIS_SESSIONS_COOKIE_PATH: '/app',
      REDIS_SESSIONS_COOKIE_SECURE: 'false',
    }).join('\n');
    expect(host).toContain('__Host- needs REDIS_SESSIONS_COOKIE_SECURE');
    expect(host).toContain('__Host- forbids REDIS_SESSIONS_COOKIE_DOMAIN');
    expect(host).toContain('__Host- needs REDIS_SESSIONS_COOKIE_PATH');
    const secure = problemsOf({
      REDIS_SESSIONS_SECRET: SECRET,
      REDIS_SESSIONS_COOKIE_NAME: '__Secure-sid',
      REDIS_SESSIONS_COOKIE_SECURE: '0',
    });
    expect(secure.join('\n')).toContain('__Secure- needs');
    const none = problemsOf({
      REDIS_SESSIONS_SECRET: SECRET,
      REDIS_SESSIONS_COOKIE_SAMESITE: 'none',
      REDIS_SESSIONS_COOKIE_SECURE: 'false',
    });
    expect(none.join('\n')).toContain('none needs');
  });

  it('rejects cookie names, paths and domains that would inject attributes', () => {
    for (const [name, value] of [
      ['COOKIE_NAME', 'a;b'],
      ['COOKIE_NAME', 'a\r\nb'],
      ['COOKIE_PATH', '/a;Domain=evil'],
      ['COOKIE_DOMAIN', 'evil.com;x'],
      ['COOKIE_DOMAIN', 'a b'],
    ]) {
      expect(
        problemsOf({ REDIS_SESSIONS_SECRET: SECRET, [`REDIS_SESSIONS_${name}`]: value }).join('\n'),
      ).toContain(`REDIS_SESSIONS_${name} must`);
    }
  });

  it('takes a user key as a dotted path, never one that reaches a prototype', () => {
    for (const good of ['userId', 'passport.user', 'passport.user.id', '$user']) {
      expect(() =>
        sessionOptionsFromSettings({
          REDIS_SESSIONS_SECRET: SECRET,
          REDIS_SESSIONS_USER_KEY: good,
        }),
      ).not.toThrow();
    }
    for (const bad of [
      'a..b',
      '.a',
      'a.',
      '__proto__',
      'a.__proto__.b',
      'constructor.x',
      'a.prototype',
    ]) {
      expect(
        problemsOf({ REDIS_SESSIONS_SECRET: SECRET, REDIS_SESSIONS_USER_KEY: bad }).join('\n'),
      ).toContain('REDIS_SESSIONS_USER_KEY must be a session key or a dotted path');
    }
  });

  it('names Sentinel settings that need each other', () => {
    expect(
      problemsOf({ REDIS_SESSIONS_SECRET: SECRET, REDIS_SESSIONS_SENTINELS: 'a:1' }).join('\n'),
    ).toContain(
      'REDIS_SESSIONS_SENTINEL_NAME (redis.sessions.sentinel_name) is required with REDIS_SESSIONS_SENTINELS',
    );
    expect(
      problemsOf({ REDIS_SESSIONS_SECRET: SECRET, REDIS_SESSIONS_SENTINELS: 'nope' }).join('\n'),
    ).toContain('host:port');
  });

  it('suggests the setting a typo meant, and takes CONSTRUCTOR for an unknown setting', () => {
    const problems = problemsOf({
      REDIS_SESSIONS_SECRET: SECRET,
      REDIS_SESSIONS_COOKIE_SAMSITE: 'lax',
      REDIS_SESSIONS_CONSTRUCTOR: '1',
      'redis.sessions.timeot': '5',
    });
    expect(problems).toEqual([
      'REDIS_SESSIONS_COOKIE_SAMSITE is not a known setting: did you mean REDIS_SESSIONS_COOKIE_SAMESITE?',
      expect.stringMatching(
        /^REDIS_SESSIONS_CONSTRUCTOR is not a known setting \(known: REDIS_SESSIONS_SECRET, REDIS_SESSIONS_OLD_SECRETS,/,
      ),
      'redis.sessions.timeot is not a known setting: did you mean redis.sessions.timeout?',
    ]);
  });

  it('points a qualified name at the setting it ends with', () => {
    const problems = problemsOf({
      REDIS_SESSIONS_SECRET: SECRET,
      REDIS_SESSIONS_REDIS_URL: 'redis://cache:6379',
      'redis.sessions.session_timeout': '60',
    });
    expect(problems).toEqual([
      'REDIS_SESSIONS_REDIS_URL is not a known setting: did you mean REDIS_SESSIONS_URL?',
      'redis.sessions.session_timeout is not a known setting: did you mean redis.sessions.timeout?',
    ]);
  });

  it('names the spellings a switch accepts', () => {
    expect(problemsOf({ REDIS_SESSIONS_SECRET: SECRET, REDIS_SESSIONS_TRACK_IP: 'maybe' })).toEqual(
      ['REDIS_SESSIONS_TRACK_IP must be true or false (or yes/no, on/off, 1/0), got "maybe"'],
    );
  });

  it('is not confused by the variables Kubernetes injects for a Service named redis-sessions', () => {
    const options = sessionOptionsFromSettings({
      REDIS_SESSIONS_SECRET: SECRET,
      REDIS_SESSIONS_SERVICE_HOST: '10.0.0.5',
      REDIS_SESSIONS_SERVICE_PORT: '6379',
      REDIS_SESSIONS_SERVICE_PORT_REDIS: '6379',
      REDIS_SESSIONS_PORT: 'tcp://10.0.0.5:6379',
      REDIS_SESSIONS_PORT_6379_TCP: 'tcp://10.0.0.5:6379',
      REDIS_SESSIONS_PORT_6379_TCP_PROTO: 'tcp',
      REDIS_SESSIONS_PORT_6379_TCP_PORT: '6379',
      REDIS_SESSIONS_PORT_6379_TCP_ADDR: '10.0.0.5',
    });
    expect(options).toEqual({ secret: SECRET });
    // A port the user wrote is still a setting, and still checked.
    expect(problemsOf({ REDIS_SESSIONS_SECRET: SECRET, REDIS_SESSIONS_PORT: 'tcp' })).toEqual([
      'REDIS_SESSIONS_PORT must be a whole number, got "tcp"',
    ]);
  });

  it('prints its problems once when it goes uncaught', () => {
    let error: unknown;
    try {
      sessionOptionsFromSettings({ REDIS_SESSIONS_COLOR: 'blue' });
    } catch (caught) {
      error = caught;
    }
    const printed = inspect(error);
    expect(printed.split('REDIS_SESSIONS_COLOR is not a known setting')).toHaveLength(2);
    expect((error as InvalidSessionOptionsError).problems).toHaveLength(2);
  });

  it('knows every setting of the contract', () => {
    expect([...SESSION_SETTING_NAMES].sort()).toEqual(
      [
        'secret',
        'old_secrets',
        'timeout',
        'absolute_timeout',
        'prefix',
        'cookie_name',
        'cookie_max_age',
        'cookie_path',
        'cookie_domain',
        'cookie_secure',
        'cookie_httponly',
        'cookie_samesite',
        'cookie_on_exception',
        'url',
        'host',
        'port',
        'db',
        'username',
        'password',
        'unix_socket_path',
        'tls',
        'socket_timeout',
        'sentinels',
        'sentinel_name',
        'cluster_nodes',
        'max_size',
        'max_fields',
        'user_key',
        'rotation_grace',
        'touch_interval',
        'near_cache',
        'hashed_keys',
        'encryption_key',
        'old_encryption_keys',
        'track_ip',
        'track_user_agent',
        'legacy_cookie_name',
        'legacy_secrets',
        'legacy_prefix',
        'legacy_keep',
      ].sort(),
    );
  });
});
