// The `theo` command line: parses flags into the one config, then runs a subcommand.
import { Command, InvalidArgumentError, Option } from 'commander';
import { loadConfig, type TheoConfig } from '../config/index.js';
import { errorMessage, isTheoError } from '../errors/index.js';
import { createLogger } from '../observability/logger.js';
import { inspectModel, listModels, pullCommand } from './models.js';
import { recordRtp } from './rtp-record.js';
import { sendRtp } from './rtp-send.js';
import { startServer } from './serve.js';
import { transcribeCommand } from './transcribe.js';
import { streamCommand } from './stream.js';
import { itnCommand } from './itn.js';
import { ModelRegistry } from '../registry/registry.js';
import { workerCommand } from './worker.js';
import { guardStdio, installFaultHandlers } from './process-guards.js';
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

function portList(v: string): number[] {
  const ports = v.split(',').map((p) => Number(p.trim()));
  if (ports.length === 0 || ports.some((p) => !Number.isInteger(p) || p < 1 || p > 65535)) throw new InvalidArgumentError('expected comma-separated ports, e.g. 41000,41001');
  return ports;
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

  withCommon(program.command('serve').description('run the runtime: HTTP API (OpenAI-compatible /v1/audio, /health, /metrics), workers and the RTP media plane'))
    .option('--host <host>', 'HTTP listen address (default 127.0.0.1; env THEO_HOST)')
    .option('--port <port>', 'HTTP listen port (default 8000; env THEO_PORT)', int('--port', 0, 65535))
    .option('--rtp-host <host>', 'address the RTP ports bind (env THEO_RTP_HOST)')
    .option('--rtp-ports <min-max>', 'RTP port range (default 40000-40999)', portRange)
    .option('--model <name>', 'default model (env THEO_DEFAULT_MODEL; default pocketsphinx-en-us)')
    .option('--preload', 'wait until the models are loaded before accepting requests')
    .option('--tls-cert <file>', 'PEM certificate (chain): serve HTTPS and WSS (with --tls-key; env THEO_TLS_CERT)')
    .option('--tls-key <file>', 'PEM private key for --tls-cert (env THEO_TLS_KEY)')
    .option('--rtp-fork <ports>', 'comma-separated UDP ports where every RTP source becomes a call session (env THEO_RTP_FORK_PORTS)', portList)
    .option('--ari-url <url>', "Asterisk's HTTP server for the ARI controller, e.g. http://127.0.0.1:8088 (env THEO_ARI_URL)")
    .option('--ari-user <user>', 'ARI user (env THEO_ARI_USER)')
    .option('--ari-password <password>', 'ARI password; prefer env THEO_ARI_PASSWORD (a flag shows in ps)')
    .option('--ari-app <name>', 'Stasis application calls enter (default theo; env THEO_ARI_APP)')
    .option('--drachtio-host <host>', "drachtio-server's application address: answer SIP calls through it (default 127.0.0.1; env THEO_DRACHTIO_HOST)")
    .option('--drachtio-port <port>', "drachtio-server's application port (default 9022; env THEO_DRACHTIO_PORT)", int('--drachtio-port', 1, 65535))
    .option('--drachtio-secret <secret>', "drachtio-server's shared secret; prefer env THEO_DRACHTIO_SECRET (a flag shows in ps)")
    .action(async (flags: CommonFlags & { host?: string; port?: number; rtpHost?: string; rtpPorts?: [number, number]; model?: string; preload?: boolean; tlsCert?: string; tlsKey?: string; rtpFork?: number[]; ariUrl?: string; ariUser?: string; ariPassword?: string; ariApp?: string; drachtioHost?: string; drachtioPort?: number; drachtioSecret?: string }) => {
      const config = buildConfig(flags, {
        server: { host: flags.host, port: flags.port, tlsCert: flags.tlsCert, tlsKey: flags.tlsKey },
        telephony: { fork: flags.rtpFork ? { ports: flags.rtpFork } : undefined, ari: flags.ariUrl || flags.ariUser || flags.ariPassword || flags.ariApp ? { url: flags.ariUrl, user: flags.ariUser, password: flags.ariPassword, app: flags.ariApp } : undefined, sip: flags.drachtioHost || flags.drachtioPort || flags.drachtioSecret ? { host: flags.drachtioHost, port: flags.drachtioPort, secret: flags.drachtioSecret } : undefined },
        rtp: { host: flags.rtpHost, portMin: flags.rtpPorts?.[0], portMax: flags.rtpPorts?.[1] },
        models: { default: flags.model },
      });
      const logger = createLogger({ level: config.log.level });
      const server = await startServer(config, logger, { preload: flags.preload, configFile: flags.config });
      // Signals are handled before the line that tells a supervisor the server is up: a SIGTERM right after it
      // shuts down gracefully instead of meeting Node's default action.
      const ac = onSignals();
      installFaultHandlers({ logger, registry: server.registry, shutdown: () => ac.abort(), shutdownBoundMs: config.server.drainTimeoutMs + 15_000 });
      process.stdout.write(`theo listening on ${server.url}\n`);
      await new Promise<void>((resolve) => ac.signal.addEventListener('abort', () => resolve(), { once: true }));
      logger.info('shutting down');
      await server.close();
      logger.flush();
    });

  for (const task of ['transcribe', 'translate'] as const) {
    withCommon(program.command(task).description(task === 'transcribe' ? 'transcribe an audio file with a local model' : 'translate the speech of an audio file to English text').argument('<file>', 'audio file (WAV; MP3, FLAC, Ogg, ... with ffmpeg)'))
      .option('-m, --model <name>', 'model (default: models.default)')
      .option('-l, --language <code>', 'spoken language, ISO-639-1 (default: the model\'s)')
      .addOption(new Option('-f, --format <format>', 'output format').choices(['text', 'json', 'verbose_json', 'srt', 'vtt']).default('text'))
      .option('--json', 'same as --format verbose_json')
      .option('--prompt <text>', 'context text for the model')
      .option('--temperature <t>', 'sampling temperature, 0 = greedy', num('--temperature', 0, 1), 0)
      .option('--hot-words <list>', 'comma-separated words or phrases to favour')
      .option('--words', 'word timestamps (verbose_json)')
      .option('--itn', 'write numbers, money, dates and IDs in written form (default: postprocess.itn, on)')
      .option('--no-itn', 'keep the recogniser\'s spoken-form text')
      .option('--no-preprocess', 'no DC removal, denoise or gain before the model (resampling still runs)')
      .option('--gain', 'normalise the level to a -3 dBFS peak before the model (default: preprocess.gain, off)')
      .option('--no-gain', 'no level normalisation')
      .addOption(new Option('--denoise <mode>', 'RNNoise: auto = on for telephone audio').choices(['auto', 'on', 'off']))
      .option('--hot-word-threshold <t>', 'similarity (0..1) a word needs to be replaced by a hot word', num('--hot-word-threshold', 0, 1))
      .option('--no-progress', 'no progress bar')
      .option('--stream', 'feed the file through a live session (VAD, partials, finals) in 20 ms frames at real-time pace; --json prints every event as a JSON line')
      .option('--fast', 'with --stream: as fast as the session takes the audio, not at real-time pace')
      .addOption(new Option('--sensitivity <level>', 'with --stream: voice activity sensitivity (default vad.sensitivity, normal)').choices(['high', 'normal', 'low']))
      .action(async (file: string, flags: CommonFlags & { model?: string; language?: string; format: 'text' | 'json' | 'verbose_json' | 'srt' | 'vtt'; json?: boolean; prompt?: string; temperature: number; hotWords?: string; words?: boolean; itn?: boolean; preprocess: boolean; gain?: boolean; denoise?: 'auto' | 'on' | 'off'; hotWordThreshold?: number; progress: boolean; stream?: boolean; fast?: boolean; sensitivity?: 'high' | 'normal' | 'low' }) => {
        const config = buildConfig(flags, flags.sensitivity ? { vad: { sensitivity: flags.sensitivity } } : {});
        const models = ModelRegistry.scan(config.models.dir, { defaultName: config.models.default });
        const entry = flags.model ? models.get(flags.model) : models.defaultModel();
        if (entry.state === 'missing') throw new InvalidArgumentError(`model '${entry.name}' is not usable: ${entry.reason ?? 'its files are missing'}`);
        const hotWords = (flags.hotWords ?? '').split(',').map((w) => w.trim()).filter(Boolean);
        const denoise = flags.denoise === undefined ? config.preprocess.denoise : flags.denoise === 'auto' ? 'auto' : flags.denoise === 'on';
        const gain = flags.gain ?? config.preprocess.gain;
        if (flags.fast && !flags.stream) throw new InvalidArgumentError('--fast goes with --stream');
        if (flags.stream) {
          if (task === 'translate') throw new InvalidArgumentError('--stream transcribes; translate a file without --stream');
          const logger = createLogger({ level: flags.logLevel ? config.log.level : 'warn' });
          const r = await streamCommand(
            config,
            entry,
            { file, language: flags.language?.toLowerCase(), hotWords, itn: flags.itn ?? config.postprocess.itn, preprocess: flags.preprocess && config.preprocess.enabled, gain, denoise, fast: flags.fast === true, json: flags.json === true },
            logger,
            onSignals().signal,
          );
          if (r.errors > 0) process.exitCode = 1;
          return;
        }
        const out = await transcribeCommand(
          entry,
          {
            file,
            task,
            format: flags.json ? 'verbose_json' : flags.format,
            language: flags.language?.toLowerCase(),
            prompt: flags.prompt,
            temperature: flags.temperature,
            hotWords,
            words: flags.words === true,
            itn: flags.itn ?? config.postprocess.itn,
            preprocess: flags.preprocess && config.preprocess.enabled,
            dc: config.preprocess.dc,
            gain,
            denoise,
            hotWordThreshold: flags.hotWordThreshold ?? config.postprocess.hotWordThreshold,
            progress: flags.progress && process.stderr.isTTY,
          },
          onSignals().signal,
        );
        process.stdout.write(out.endsWith('\n') ? out : `${out}\n`);
      });
  }

  program
    .command('itn')
    .description('print text as Theo\'s post-processing writes it (inverse text normalisation, entities, hot words)')
    .argument('<text...>', 'spoken-form text')
    .option('-l, --language <code>', 'language of the text: pt-BR, pt, en', 'en')
    .option('--hot-words <list>', 'comma-separated words or phrases to correct towards')
    .option('--hot-word-threshold <t>', 'similarity (0..1) a word needs to be replaced by a hot word', num('--hot-word-threshold', 0, 1))
    .option('--no-itn', 'only hot word correction')
    .action((words: string[], flags: { language: string; hotWords?: string; hotWordThreshold?: number; itn: boolean }) => {
      process.stdout.write(`${itnCommand(words.join(' '), flags)}\n`);
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
      const summary = await recordRtp(
        { port: flags.port, out: flags.out, durationS: flags.duration, idleS: flags.idle, waitS: flags.wait, from: flags.from, onListening: (port) => process.stdout.write(`${JSON.stringify({ event: 'listening', port })}\n`) },
        config.rtp,
        logger,
        ac.signal,
      );
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

  withCommon(program.command('worker').description('run one model as a gRPC worker (spawned by `theo serve`, or remote); prints {"event":"listening","port":N}'))
    .requiredOption('--model <name>', 'registry name of the model to load')
    .option('--model-dir <dir>', "the model's folder (default: the one under models.dir whose theo.yaml has that name)")
    .option('--host <host>', 'gRPC listen address (default workers.host, 127.0.0.1; a remote worker: e.g. 0.0.0.0, with workers.token set)')
    .option('--port <port>', 'gRPC listen port (0 = any free port)', int('--port', 0, 65535), 0)
    .addOption(new Option('--engine-module <file>', 'module exporting createEngine(entry), instead of the engine the manifest names (tests)').hideHelp())
    .addOption(new Option('--watch-stdin', 'stop when stdin closes (the spawning runtime is gone)').hideHelp())
    .addOption(new Option('--token-stdin', "read this worker's token from the first line of stdin (the spawning runtime sends it)").hideHelp())
    .action(async (flags: CommonFlags & { model: string; modelDir?: string; host?: string; port: number; engineModule?: string; watchStdin?: boolean; tokenStdin?: boolean }) => {
      // --host is where this worker listens, not workers.host (the loopback address of a runtime's own workers).
      const config = buildConfig(flags, {});
      const logger = createLogger({ level: config.log.level });
      const code = await workerCommand(flags, config, logger);
      // Exit now: a stuck handle (an engine's thread pool, stdin) must not keep a stopped worker alive.
      logger.flush(() => process.exit(code));
    });

  withCommon(program.command('list').description('list the models in models.dir: engine, architecture, languages, whether their files are there'))
    .option('--models-dir <dir>', 'folder of model folders (default models.dir; env THEO_MODELS_DIR)')
    .option('--json', 'print JSON')
    .action((flags: CommonFlags & { modelsDir?: string; json?: boolean }) => {
      const config = buildConfig(flags, { models: { dir: flags.modelsDir } });
      process.exitCode = listModels(config, flags);
    });

  withCommon(program.command('inspect').description("show a model's manifest, its files (sizes, existence) and capabilities").argument('<name>', 'registry name of the model'))
    .option('--models-dir <dir>', 'folder of model folders (default models.dir; env THEO_MODELS_DIR)')
    .option('--json', 'print JSON')
    .action((name: string, flags: CommonFlags & { modelsDir?: string; json?: boolean }) => {
      const config = buildConfig(flags, { models: { dir: flags.modelsDir } });
      process.exitCode = inspectModel(name, config, flags);
    });

  withCommon(program.command('pull').description('fetch a Whisper model (onnx-community export) from a Hugging Face compatible hub into models.dir').argument('<repo>', 'hub repository, e.g. onnx-community/whisper-tiny.en'))
    .option('--as <name>', 'registry name and folder (default: the repository name)')
    .option('--revision <rev>', 'branch, tag or commit (default main)')
    .addOption(new Option('--dtype <dtype>', 'ONNX weights to fetch').choices(['fp32', 'fp16', 'q8', 'q4']).default('q8'))
    .option('--models-dir <dir>', 'folder of model folders (default models.dir; env THEO_MODELS_DIR)')
    .option('--endpoint <url>', 'hub address (default hub.endpoint; env HF_ENDPOINT, THEO_HUB_ENDPOINT); the token comes from hub.token or env HF_TOKEN')
    .option('--json', 'print the result as JSON')
    .action(async (repo: string, flags: CommonFlags & { as?: string; revision?: string; dtype: 'fp32' | 'fp16' | 'q8' | 'q4'; modelsDir?: string; endpoint?: string; json?: boolean }) => {
      const config = buildConfig(flags, { models: { dir: flags.modelsDir }, hub: { endpoint: flags.endpoint } });
      process.exitCode = await pullCommand(repo, config, flags, onSignals().signal);
    });

  return program;
}

/** An error as the person at the terminal needs it: for an unknown model, where it was looked for. */
function cliMessage(err: unknown): string {
  if (!isTheoError(err)) return errorMessage(err);
  if (err.code !== 'model_not_found') return err.message;
  const { dir, problem } = err.details as { dir?: unknown; problem?: { path: string; reason: string } };
  const where = typeof dir === 'string' ? ` in models.dir ${dir}` : '';
  return `${err.message}${where}${problem ? `; ${problem.path} could not be used: ${problem.reason}` : ''}`;
}

export async function main(argv: readonly string[]): Promise<void> {
  guardStdio();
  try {
    await buildProgram().parseAsync(argv);
  } catch (err) {
    // Expected failures (bad config, bad file, busy port) get one clear line, not a stack trace.
    process.stderr.write(`theo: ${cliMessage(err)}\n`);
    process.exitCode = 1;
  }
}


