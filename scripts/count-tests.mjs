// Reads a vitest JSON report and prints "<passed> <failed>". A missing or broken report counts as one
// failure, and so does a test file that failed to load (it has no test results of its own).
import { readFileSync } from 'node:fs';
import process from 'node:process';

let passed = 0;
let failed = 0;
try {
  const report = JSON.parse(readFileSync(process.argv[2], 'utf8'));
  passed = report.numPassedTests ?? 0;
  failed = report.numFailedTests ?? 0;
  for (const file of report.testResults ?? []) {
    if (file.status === 'failed' && (file.assertionResults ?? []).length === 0) failed += 1;
  }
  if (passed + failed === 0) failed = 1; // a run that executed no test is a failure
} catch {
  failed = 1;
}
process.stdout.write(`${passed} ${failed}\n`);
