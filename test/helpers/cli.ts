// The entry point of a test-suite command (npm run fuzz, npm run soak): main's number is the exit status;
// a throw prints its stack and exits 2 (the command itself failed, not what it tested).
export function runCli(main: () => Promise<number>): void {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exitCode = 2;
    },
  );
}
