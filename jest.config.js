/** Jest runs the TypeScript sources directly (ESM through ts-jest). */
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: { '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json' }] },
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  testTimeout: 30000,
  // A test file per CPU (jest's default leaves one CPU idle: on CI's two, half the speed). The files
  // isolate themselves (own database file, schema, Redis prefix, ports); browser tests wait generously
  // for pages (test/helpers/chromium.ts PAGE_WAIT) because of this.
  maxWorkers: '100%',
  // Browser tests (test/browser) skipped for want of Chromium are named again after the summary.
  globalSetup: '<rootDir>/test/helpers/jest-global-setup.ts',
  globalTeardown: '<rootDir>/test/helpers/jest-global-teardown.ts',
  // Stryker's sandbox copies of the project (npm run mutation) are not part of this run.
  modulePathIgnorePatterns: ['<rootDir>/.stryker-tmp'],
};
