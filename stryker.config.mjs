/**
 * Mutation testing (StrykerJS 9 with the jest runner): `npm run mutation`. Not part of .ci/run (too slow).
 *
 * Scopes (MUTATION_SCOPE, default `all`):
 *   policy   src/policy/** (pure; the authorization function included) and the sign-in sequence, killed by
 *            test/policy and test/interaction/sequence.test.ts only: minutes.
 *   tokens   lockout counting and single-use consumption (services, SQL and Redis stores, second factors), killed by the
 *            store and service tests on whatever backend the environment names (Redis store mutants need
 *            REDIS_URL; PostgreSQL needs DATABASE_URL). MUTATION_E2E=1 adds the sign-in page tests.
 *   all      both.
 *
 * Jest runs the TypeScript sources as ESM (ts-jest, --experimental-vm-modules), so the runner's child
 * processes get that flag; `perTest` coverage analysis works through Stryker's jest-environment mixin and
 * lets each mutant run only the tests that reach it.
 */
import { readFileSync } from 'node:fs';

const scope = process.env.MUTATION_SCOPE ?? 'all';

/**
 * `file:start-end` from the line declaring `from` to the end of the method declaring `to` (found by
 * name, so the range follows the code when lines move).
 */
function methodRange(file, from, to) {
  const lines = readFileSync(file, 'utf8').split('\n');
  const start = lines.findIndex((l) => l.includes(`async ${from}(`));
  const last = lines.findIndex((l) => l.includes(`async ${to}(`));
  if (start < 0 || last < 0) throw new Error(`stryker.config.mjs: ${from} or ${to} not found in ${file}`);
  const indent = lines[last].search(/\S/);
  const end = lines.findIndex((l, i) => i > last && l.search(/\S/) === indent && l.trim() === '}');
  return `${file}:${start + 1}-${end + 1}`;
}

const policy = {
  // The sign-in sequence is pure too: its table test kills its mutants.
  mutate: ['src/policy/**/*.ts', 'src/policy/authorization.ts', 'src/interaction/sequence.ts'],
  tests: ['<rootDir>/test/policy/**/*.test.ts', '<rootDir>/test/interaction/sequence.test.ts'],
};

const tokens = {
  mutate: [
    'src/services/accounts.ts',
    // takeAttempt, refundAttempt and clearAttempts (and what lies between them) of the account store.
    methodRange('src/stores/sql/accounts.ts', 'takeAttempt', 'clearAttempts'),
    // The one counting rule, for accounts and for addresses without one.
    'src/stores/sql/attempt-counting.ts',
    'src/stores/sql/attempt-counters.ts',
    'src/stores/sql/oidc-store.ts',
    'src/stores/redis/oidc-store.ts',
    'src/stores/sql/reset-tokens.ts',
    'src/stores/sql/recovery-codes.ts',
    // TOTP steps, passkey counters, first-factor and keep-one races (test/stores/factor-store.contract.ts).
    'src/stores/sql/factors.ts',
  ],
  tests: [
    '<rootDir>/test/stores/**/*.test.ts',
    '<rootDir>/test/services/accounts.test.ts',
    '<rootDir>/test/services/lockout-and-single-use.test.ts',
    '<rootDir>/test/services/attempt-counting.test.ts',
    // The end-to-end sign-in tests kill more, at minutes per mutant: MUTATION_E2E=1 adds them.
    ...(process.env.MUTATION_E2E
      ? [
          '<rootDir>/test/login-security/**/*.test.ts',
          '<rootDir>/test/two-factor/**/*.test.ts',
          '<rootDir>/test/passwords/flows.test.ts',
          '<rootDir>/test/bite/**/*.test.ts',
        ]
      : []),
  ],
};

const chosen = scope === 'policy' ? [policy] : scope === 'tokens' ? [tokens] : [policy, tokens];

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  packageManager: 'npm',
  testRunner: 'jest',
  testRunnerNodeArgs: ['--experimental-vm-modules'],
  plugins: ['@stryker-mutator/jest-runner'],
  jest: {
    projectType: 'custom',
    config: {
      testEnvironment: 'node',
      extensionsToTreatAsEsm: ['.ts'],
      moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
      transform: { '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json' }] },
      testMatch: chosen.flatMap((s) => s.tests),
      testTimeout: 60000,
    },
    // Each mutant runs only the test files that import (directly or not) the file it changes.
    enableFindRelatedTests: true,
  },
  coverageAnalysis: 'perTest',
  mutate: chosen.flatMap((s) => s.mutate),
  ignorePatterns: ['dist', 'data', 'bench/results', 'coverage', 'reports', '.stryker-tmp', '*.log'],
  checkers: [],
  concurrency: 2,
  // A mutant that loops (i-- → i++) is cut off this long after the test's normal time.
  timeoutMS: 10000,
  timeoutFactor: 2,
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: `reports/mutation/${scope}.html` },
  jsonReporter: { fileName: `reports/mutation/${scope}.json` },
  thresholds: { high: 90, low: 85, break: null },
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
};
