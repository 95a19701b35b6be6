// Waiting and pacing for tests that talk to a live server: poll a condition, send chunks at real-time pace.

/** Polls `ok` every 20 ms; throws after `ms` with `what` and whatever `got()` says was received. */
export async function waitFor(what: string, ok: () => boolean, got: () => string, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; got ${got()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Calls `send` with successive `chunkBytes` slices of `bytes`, one every `chunkMs` of wall time. */
export async function paced(bytes: Buffer, chunkBytes: number, send: (chunk: Buffer) => void, chunkMs = 20): Promise<void> {
  const t0 = Date.now();
  for (let i = 0, k = 0; i < bytes.length; i += chunkBytes, k++) {
    send(bytes.subarray(i, i + chunkBytes));
    const wait = t0 + (k + 1) * chunkMs - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
}
