// A CommonJS dependency of the ESM app, as many npm packages still are: its require() of the
// library loads the CJS build, so the process holds both builds. It must share the ESM build's
// sessions (slot, state marker, injection tokens), or its routes would load sessions twice and
// lose writes.
'use strict';
const { Controller, Get, UseGuards } = require('@nestjs/common');
const { Session, CsrfGuard } = require('nestjs-redis-sessions');

class CjsController {
  write(session) {
    session.fromCjs = true;
    return { ok: true };
  }

  guarded() {
    return { ok: true };
  }
}

const method = (name) => Object.getOwnPropertyDescriptor(CjsController.prototype, name);
Session()(CjsController.prototype, 'write', 0);
Get('cjs/write')(CjsController.prototype, 'write', method('write'));
UseGuards(CsrfGuard)(CjsController.prototype, 'guarded', method('guarded'));
Get('cjs/guarded')(CjsController.prototype, 'guarded', method('guarded'));
Reflect.defineMetadata('design:paramtypes', [Object], CjsController.prototype, 'write');
Controller()(CjsController);

module.exports = { CjsController, library: require.resolve('nestjs-redis-sessions') };
