// The `theo` command line: parses flags into the one config, then runs a subcommand.
import { Command, InvalidArgumentError, Option } from 'commander';
import { loadConfig, type TheoConfig } from '../config/index.js';
import { errorMessage, isTheoError } from '../errors/index.js';
import { createLogger } from '../observability/logger.js';
import { recordRtp } from './rtp-record.js';
import { sendRtp } from './rtp-send.js';
import { startServer } from './serve.js';
import { VERSION } from './version.js';

function int(name: string, min: number, max: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`${name} must be an integer in ${min}..${max}`);
    return n;
  };
}

function num(name: string, min: number, max: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < min || n > max) throw new InvalidArgumentError(`${name} must be a number in ${min}..${max}`);
    return n;
  };
}

function portRange(v: string): [number, number] {
  const m = /^(\d+)-(\d+)$/.exec(v);
  const lo = Number(m?.[1]);
  const hi = Number(m?.[2]);
  if (!m || lo < 1 || hi > 65535 || lo > hi) throw new InvalidArgumentError('expected MIN-MAX, e.g. 40000-40999');
  return [lo, hi];
}

function hostPort(v: string): { host: string; port: number } {
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(v);
  const port = Number(m?.[2]);
  if (!m?.[1] || !Number.isInteger(port) || port < 1 || port > 65535) throw new InvalidArgumentError('expected HOST:PORT, e.g. 127.0.0.1:40000');
  return { host: m[1], port };
}

function peer(v: string): { address: string; port?: number } {
  const m = /^\[?([^\]]+?)\]?(?::(\d+))?$/.exec(v);
  if (!m?.[1]) throw new InvalidArgumentError('expected ADDRESS or ADDRESS:PORT');
  return m[2] ? { address: m[1], port: Number(m[2]) } : { address: m[1] };
}

interface CommonFlags {
  config?: string;
  logLevel?: string;
}

function buildConfig(flags: CommonFlags, overrides: Record<string, unknown>): Readonly<TheoConfig> {
  return loadConfig({ file: flags.config, overrides: { ...overrides, log: { level: flags.logLevel } } });
}

function withCommon(cmd: Command): Command {
  return cmd
    .addOption(new Option('--config <file>', 'YAML or JSON config file (env THEO_CONFIG)'))
    .addOption(new Option('--log-level <level>', 'log level').choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']));
}

function onSignals(): AbortController {
  const ac = new AbortController();
  const stop = (): void => ac.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return ac;
}

export function buildProgram(): Command {
  const program = new Command('theo').description('Theo: a telephony-first speech runtime').version(VERSION, '-v, --version');

  withCommon(program.command('serve').description('run the runtime: HTTP API (/health, /metrics) and the RTP media plane'))
    .option('--host <host>', 'HTTP listen address (default 127.0.0.1; env THEO_HOST)')
    .option('--port <port>', 'HTTP listen port (default 8000; env THEO_PORT)', int('--port', 0, 65535))
    .option('--rtp-host <host>', 'address the RTP ports bind (env THEO_RTP_HOST)')
    .option('--rtp-ports <min-max>', 'RTP port range (default 40000-40999)', portRange)
    .action(async (flags: CommonFlags & { host?: string; port?: number; rtpHost?: string; rtpPorts?: [number, number] }) => {
      const config = buildConfig(flags, {
        server: { host: flags.host, port: flags.port },
        rtp: { host: flags.rtpHost, portMin: flags.rtpPorts?.[0], portMax: flags.rtpPorts?.[1] },
      });
      const logger = createLogger({ level: config.log.level });
      const server = await startServer(config, logger);
      process.stdout.write(`theo listening on ${server.url}\n`);
      const ac = onSignals();
      await new Promise<void>((resolve) => ac.signal.addEventListener('abort', () => resolve(), { once: true }));
      logger.info('shutting down');
      await server.close();
      logger.flush();
    });

  const rtp = program.command('rtp').description('RTP tools: record a stream to WAV, send a WAV as RTP');

  withCommon(rtp.command('record').description('receive one RTP stream (PCMU, PCMA or L16) through the jitter buffer and write a WAV'))
    .requiredOption('--port <port>', 'UDP port to receive on', int('--port', 1, 65535))
    .requiredOption('--out <file>', 'WAV file to write')
    .option('--host <host>', 'address to bind', '0.0.0.0')
    .option('--duration <seconds>', 'stop after this much audio', num('--duration', 0.02, 86400))
    .option('--idle <seconds>', 'stop when no packet arrives for this long', num('--idle', 0.1, 3600), 3)
    .option('--wait <seconds>', 'give up if no stream starts within this time', num('--wait', 0.1, 86400), 60)
    .option('--from <addr[:port]>', 'accept packets only from this peer', peer)
    .option('--payload-types <map>', 'extra payload types, e.g. "96=L16/16000,101=telephone-event/8000"')
    .action(async (flags: CommonFlags & { port: number; out: string; host: string; duration?: number; idle: number; wait: number; from?: { address: string; port?: number }; payloadTypes?: string }) => {
      const config = buildConfig(flags, { rtp: { host: flags.host, payloadTypes: flags.payloadTypes } });
      const logger = createLogger({ level: config.log.level });
      const ac = onSignals();
      const summary = await recordRtp({ port: flags.port, out: flags.out, durationS: flags.duration, idleS: flags.idle, waitS: flags.wait, from: flags.from }, config.rtp, logger, ac.signal);
      process.stdout.write(`${JSON.stringify(summary)}\n`);
      if (summary.stopped_by === 'no_stream') process.exitCode = 2;
    });

  withCommon(rtp.command('send').description('stream a WAV file in real time as RTP, with optional network impairments').argument('<file>', 'WAV file (8 kHz for pcmu/pcma)'))
    .requiredOption('--to <host:port>', 'destination', hostPort)
    .addOption(new Option('--codec <codec>', 'payload codec').choices(['pcmu', 'pcma', 'l16']).default('pcmu'))
    .option('--payload-type <pt>', 'RTP payload type (default 0, 8, or 118 for L16)', int('--payload-type', 0, 127))
    .option('--ptime <ms>', 'packet duration', int('--ptime', 10, 120), 20)
    .option('--from-port <port>', 'local UDP port to send from (0 = any)', int('--from-port', 0, 65535), 0)
    .option('--ssrc <n>', 'SSRC (default random)', int('--ssrc', 0, 0xffffffff))
    .option('--loss <rate>', 'probability a packet is dropped', num('--loss', 0, 1), 0)
    .option('--jitter <ms>', 'extra delay per packet, uniform in [0, ms]', num('--jitter', 0, 10000), 0)
    .option('--reorder <rate>', 'probability a packet is held back past the next ones', num('--reorder', 0, 1), 0)
    .option('--duplicate <rate>', 'probability a packet is sent twice', num('--duplicate', 0, 1), 0)
    .option('--seed <n>', 'seed of the impairment generator', int('--seed', 0, 0xffffffff), 1)
    .action(async (file: string, flags: { to: { host: string; port: number }; codec: 'pcmu' | 'pcma' | 'l16'; payloadType?: number; ptime: number; fromPort: number; ssrc?: number; loss: number; jitter: number; reorder: number; duplicate: number; seed: number }) => {
      const ac = onSignals();
      const summary = await sendRtp(
        {
          file,
          host: flags.to.host,
          port: flags.to.port,
          codec: flags.codec,
          payloadType: flags.payloadType,
          ptimeMs: flags.ptime,
          fromPort: flags.fromPort,
          ssrc: flags.ssrc,
          impairment: { loss: flags.loss, jitterMs: flags.jitter, reorder: flags.reorder, duplicate: flags.duplicate, seed: flags.seed, reorderDelayMs: 2 * flags.ptime },
        },
        ac.signal,
      );
      process.stdout.write(`${JSON.stringify(summary)}\n`);
    });

  return program;
}

export async function main(argv: readonly string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (err) {
    // Expected failures (bad config, bad file, busy port) get one clear line, not a stack trace.
    process.stderr.write(`theo: ${isTheoError(err) ? err.message : errorMessage(err)}\n`);
    process.exitCode = 1;
  }
}


