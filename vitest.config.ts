import { defineConfig } from 'vitest/config';

// The DICOMweb suites that run a second time through the Lambda handler over the AWS emulators.
const throughLambda = ['test/dicomweb/store-retrieve.test.ts', 'test/dicomweb/ups-rs.test.ts', 'test/dicomweb/fuzz.test.ts', 'test/dicomweb/metadata-stow.test.ts', 'test/dicomweb/qido.test.ts', 'test/dicomweb/bad-input.test.ts', 'test/imaging/rendered.test.ts', 'test/governance/audit-trail.test.ts'];
const awsOnly = ['test/aws/**/*.test.ts'];

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Groups run one after another: the local archive first, then the AWS path, then the browser tests,
    // which run alone because a viewer rendering in software competes for the two cores.
    projects: [
      { extends: true, test: { name: 'archive', include: ['test/**/*.test.ts'], exclude: ['test/clients/**', ...awsOnly], sequence: { groupOrder: 0 } } },
      {
        extends: true,
        test: {
          name: 'lambda',
          include: [...throughLambda, ...awsOnly],
          env: { ARCHIVE_TARGET: 'lambda' },
          globalSetup: ['test/helpers/aws-global-setup.ts'],
          sequence: { groupOrder: 1 },
        },
      },
      { extends: true, test: { name: 'clients', include: ['test/clients/**/*.test.ts'], sequence: { groupOrder: 2 } } },
    ],
  },
});
