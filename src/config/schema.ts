// The shape of Theo's configuration and its defaults. Every field is validated here once;
// the rest of the code receives a frozen, typed object and never re-checks.
import { z } from 'zod';

const port = z.number().int().min(1).max(65535);
// 0 lets the OS pick the HTTP port (tests, side-by-side instances).
const listenPort = z.number().int().min(0).max(65535);
const logLevel = z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

const jitterSchema = z
  .object({
    mode: z.enum(['fixed', 'adaptive']).default('adaptive'),
    depthMs: z.number().int().min(0).max(2000).default(60),
    minDepthMs: z.number().int().min(0).max(2000).default(20),
    maxDepthMs: z.number().int().min(0).max(5000).default(200),
    capacity: z.number().int().min(16).max(65536).default(256),
  })
  .strict()
  .refine((j) => j.minDepthMs <= j.depthMs && j.depthMs <= j.maxDepthMs, {
    message: 'jitter depths must satisfy minDepthMs <= depthMs <= maxDepthMs',
  });

const rtpSchema = z
  .object({
    host: z.string().min(1).default('127.0.0.1'),
    portMin: port.default(40000),
    portMax: port.default(40999),
    idleTimeoutMs: z.number().int().min(100).default(60_000),
    tickMs: z.number().int().min(1).max(100).default(10),
    recvBufferBytes: z.number().int().min(0).default(4 * 1024 * 1024),
    payloadTypes: z.string().default(''),
    concealment: z.enum(['silence', 'fade']).default('fade'),
    jitter: jitterSchema.default({ mode: 'adaptive', depthMs: 60, minDepthMs: 20, maxDepthMs: 200, capacity: 256 }),
  })
  .strict()
  .refine((r) => r.portMin <= r.portMax, { message: 'rtp.portMin must be <= rtp.portMax' });

export const configSchema = z
  .object({
    server: z
      .object({ host: z.string().min(1).default('127.0.0.1'), port: listenPort.default(8000) })
      .strict()
      .default({ host: '127.0.0.1', port: 8000 }),
    log: z
      .object({ level: logLevel.default('info') })
      .strict()
      .default({ level: 'info' }),
    rtp: rtpSchema.default(() => rtpSchema.parse({})),
  })
  .strict();

export type TheoConfig = z.infer<typeof configSchema>;
export type RtpConfig = TheoConfig['rtp'];
export type JitterConfig = RtpConfig['jitter'];
