// The test environment: Node's, plus a quiet run. Nest's log lines (expected errors and
// warnings that tests provoke on purpose) are captured per test by test/utils/quiet-logs.ts
// and printed only for a test that fails, where they help.
const NodeEnvironment = require('jest-environment-node').TestEnvironment;

class QuietEnvironment extends NodeEnvironment {
  async handleTestEvent(event) {
    if (event.name === 'test_start' || event.name === 'run_start') this.global.__nestLogs = [];
    if (event.name === 'test_fn_failure' || event.name === 'hook_failure') {
      const logs = this.global.__nestLogs ?? [];
      if (logs.length > 0) {
        process.stderr.write(
          `\n  Log lines of the failed step (${event.test?.name ?? event.hook?.type ?? ''}):\n` +
            logs.map((line) => `    ${line}`).join('\n') +
            '\n',
        );
      }
    }
  }
}

module.exports = QuietEnvironment;
