/**
 * Jest runs in ESM mode because NestJS 12 ships as ESM only
 * (`node --experimental-vm-modules`, see package.json scripts).
 * @type {import('jest').Config}
 */
export default {
  // Quiet runs: Nest's log lines are captured, and printed only for a failing test.
  testEnvironment: '<rootDir>/test/utils/quiet-environment.cjs',
  setupFilesAfterEnv: ['<rootDir>/test/utils/quiet-logs.ts'],
  // Figures the fault and load tests measure are for reading with --verbose, not for every run.
  silent: true,
  roots: ['<rootDir>/src', '<rootDir>/test'],
  testRegex: '.*\\.(spec|e2e-spec)\\.ts$',
  // Consumer fixture apps carry their own jest tests, run inside their own install by consumers.e2e-spec.ts.
  testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/consumers/'],
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: {
    '^(\\.{1,2}/.*)\\.js$': '$1',
    // The sample imports the package by name, as users do; in tests that name is the source.
    '^nestjs-redis-sessions$': '<rootDir>/src/index.ts',
  },
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json' }],
  },
  testTimeout: 30000,
};
