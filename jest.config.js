/** Jest runs the TypeScript sources directly (ESM through ts-jest). */
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: { '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json' }] },
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  testTimeout: 30000,
  // Stryker's sandbox copies of the project (npm run mutation) are not part of this run.
  modulePathIgnorePatterns: ['<rootDir>/.stryker-tmp'],
};
