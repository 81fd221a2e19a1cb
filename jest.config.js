/** Jest runs the TypeScript sources directly (ESM through ts-jest). */
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: { '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json' }] },
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  testTimeout: 30000,
  // Browser tests (test/browser) skipped for want of Chromium are named again after the summary.
  globalSetup: '<rootDir>/test/helpers/jest-global-setup.ts',
  globalTeardown: '<rootDir>/test/helpers/jest-global-teardown.ts',
  // Stryker's sandbox copies of the project (npm run mutation) are not part of this run.
  modulePathIgnorePatterns: ['<rootDir>/.stryker-tmp'],
};
