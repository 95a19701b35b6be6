// The shape of Theo's configuration and its defaults. Every field is validated here once;
// the rest of the code receives a frozen, typed object and never re-checks.
import { fileURLToPath } from 'node:url';
import { z } from 'zod';

/** The `models` folder of this install (the package root's, next to src/ and dist/). */
export const INSTALL_MODELS_DIR = fileURLToPath(new URL('../../models', import.meta.url));

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
    concealment: z.enum(['silence', 'fade', 'pitch']).default('pitch'),
    jitter: jitterSchema.default({ mode: 'adaptive', depthMs: 60, minDepthMs: 20, maxDepthMs: 200, capacity: 256 }),
  })
  .strict()
  .refine((r) => r.portMin <= r.portMax, { message: 'rtp.portMin must be <= rtp.portMax' });

const remoteWorkerSchema = z
  .object({
    /** The model the remote worker hosts (its registry name). */
    model: z.string().min(1),
    /** host:port of its gRPC server. */
    address: z.string().regex(/^[^\s:]+:\d+$|^\[[^\]]+\]:\d+$/, 'expected HOST:PORT'),
  })
  .strict();

const modelsSchema = z
  .object({
    /**
     * Folder of model folders (each with a theo.yaml). Default: the install's own `models` folder. A relative
     * path is taken from the config file's folder when the file sets it, else from the working directory
     * (env, flags); config/load.ts resolves it, so the value here is absolute.
     */
    dir: z.string().min(1).default(INSTALL_MODELS_DIR),
    /** The model used when a request names none. */
    default: z.string().min(1).default('pocketsphinx-en-us'),
    /** Models to run workers for at start; empty = the default model only. */
    load: z.array(z.string().min(1)).default([]),
    /**
     * A request naming a model the folder did not have (or had without its files) rescans the folder, at
     * most once per this many ms: a model pulled while serving is found without a restart.
     */
    rescanIntervalMs: z.number().int().min(100).max(3_600_000).default(2_000),
  })
  .strict();

/** Loopback addresses: what a runtime's own workers may bind (only this host reaches them). */
const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|::1|\[::1\])$/;

const workersSchema = z
  .object({
    /** Address local workers bind (gRPC): loopback only; a worker for other hosts is a remote one. */
    host: z
      .string()
      .min(1)
      .default('127.0.0.1')
      .refine((h) => LOOPBACK.test(h), { message: 'local workers bind loopback only (127.0.0.1, ::1 or localhost); run `theo worker --host ADDRESS` elsewhere and list it in workers.remote' }),
    /** First port tried for local workers; 0 lets the OS pick. */
    portBase: z.number().int().min(0).max(65535).default(0),
    /** Worker processes per loaded model; requests are spread over them (round robin). */
    replicas: z.number().int().min(1).max(64).default(1),
    /** How much lower than the runtime's the workers' CPU priority is (nice steps; 0 = the same). */
    nice: z.number().int().min(0).max(19).default(10),
    /** How long a worker may take to load its model and report SERVING. */
    startTimeoutMs: z.number().int().min(1000).default(120_000),
    /** Restarts allowed per model within restartWindowMs; past that the worker is failed (crash-looping). */
    maxRestarts: z.number().int().min(0).default(5),
    restartWindowMs: z.number().int().min(1000).default(60_000),
    /** A failed worker is retried for as long as the runtime runs, the delay doubling from 5 s up to this. */
    retryMaxMs: z.number().int().min(1000).default(60_000),
    /**
     * Shared secret of remote workers: the runtime sends it on every call to them, and `theo worker` run by
     * hand requires it. Workers that the runtime spawns get a random token of their own instead.
     */
    token: z.string().min(16, 'workers.token must be at least 16 characters').regex(/^\S+$/, 'workers.token must not contain spaces').optional(),
    /** Graceful stop: time given to a worker to finish before it is killed. */
    stopTimeoutMs: z.number().int().min(100).default(5_000),
    remote: z.array(remoteWorkerSchema).default([]),
  })
  .strict();

const apiSchema = z
  .object({
    /** When set, /v1/* requests need `Authorization: Bearer <key>`. */
    apiKey: z.string().min(1).optional(),
    /** Largest upload accepted (bytes); enforced while the upload streams in. */
    maxUploadBytes: z.number().int().min(1024).default(25 * 1024 * 1024),
    /** Longest a request may wait for and run on a worker. */
    requestTimeoutMs: z.number().int().min(1000).default(600_000),
  })
  .strict();

const batchSchema = z
  .object({
    /** Longest audio a batch request may hold (seconds); checked against the declared length and while decoding. */
    maxAudioSeconds: z.number().int().min(1).max(24 * 3600).default(4 * 3600),
    /** Longest piece of a batch job sent to a worker in one call (seconds); pieces are cut at pauses. */
    partSeconds: z.number().int().min(5).max(120).default(30),
    /** Batch jobs admitted and not yet answered, at most; beyond it requests get 429 with Retry-After. */
    maxQueuedJobs: z.number().int().min(1).max(100_000).default(32),
    /**
     * Refuse new batch jobs (429) while the work already admitted is estimated to take longer than this
     * (seconds): audio still to transcribe times each model's measured real-time factor.
     */
    maxQueueWaitSeconds: z.number().int().min(1).default(120),
    /** How long a batch job waits for its model to load (or its worker to restart) before a 503. */
    modelWaitMs: z.number().int().min(0).max(600_000).default(30_000),
  })
  .strict();

const preprocessSchema = z
  .object({
    /** Run the preprocessing chain (DC removal, gain, denoise) before the engine; resampling always runs. */
    enabled: z.boolean().default(true),
    /** 20 Hz high-pass (2nd-order Butterworth): 'auto' = used only while the input has a DC offset. */
    dc: z.union([z.boolean(), z.literal('auto')]).default('auto'),
    /**
     * Peak normalisation to -3 dBFS over a 500 ms window. Off by default: the bundled recognisers normalise
     * level themselves (cepstral mean normalisation, Whisper's log-mel scaling), and the time-varying gain
     * cost PocketSphinx 6 WER points on the evaluation corpus (docs/BENCHMARKS.md).
     */
    gain: z.boolean().default(false),
    /** RNNoise: 'auto' = on for telephony audio (8 kHz or narrower, G.711), off for wideband. */
    denoise: z.union([z.boolean(), z.literal('auto')]).default('auto'),
  })
  .strict();

const postprocessSchema = z
  .object({
    /** Inverse text normalisation and entity formatting of finals, unless a request says otherwise. */
    itn: z.boolean().default(true),
    /** Similarity (0..1) a recognised word needs to be replaced by a hot word; higher is stricter. */
    hotWordThreshold: z.number().min(0).max(1).optional(),
  })
  .strict();

const vadSchema = z
  .object({
    /** Speech probability thresholds: high 0.3, normal 0.5, low 0.7 (high catches quieter speech). */
    sensitivity: z.enum(['high', 'normal', 'low']).default('normal'),
    /** Speech shorter than this is ignored (clicks, coughs). */
    minSpeechMs: z.number().int().min(32).max(10_000).default(250),
    /** A pause must last this long to end an utterance. */
    minSilenceMs: z.number().int().min(32).max(10_000).default(300),
    /** An utterance longer than this is cut and finalised (the next one starts at once). */
    maxSegmentMs: z.number().int().min(1000).max(120_000).default(30_000),
    /** Audio before the detected start that goes to the recogniser with the utterance. */
    speechPadMs: z.number().int().min(0).max(2000).default(200),
  })
  .strict()
  .refine((v) => v.minSpeechMs < v.maxSegmentMs, { message: 'vad.minSpeechMs must be < vad.maxSegmentMs' });

const sessionsSchema = z
  .object({
    /** Concurrent sessions; more are refused with a clear error. */
    max: z.number().int().min(1).max(100_000).default(1000),
    /** Audio a session keeps for recovery (seconds, at the model's rate). */
    bufferSeconds: z.number().int().min(5).max(600).default(60),
    /** Fill ratio of uncommitted audio at which the open utterance is finalised and committed. */
    forceCommitRatio: z.number().gt(0).max(1).default(0.9),
    /** Input ahead of real time by more than this is rate-limited; past twice this, frames are dropped. */
    maxBacklogMs: z.number().int().min(100).max(600_000).default(5_000),
    /** LocalAgreement-N for engines without native partials; 0 disables partials for them. */
    localAgreement: z.number().int().min(0).max(8).default(2),
    /** How often an engine without native partials re-decodes the open utterance. */
    partialIntervalMs: z.number().int().min(100).max(10_000).default(1_000),
    /** Tokens of earlier finals passed as the next utterance's prompt. */
    contextTokens: z.number().int().min(0).max(448).default(224),
    /** Longest wait for a worker (after a crash) before the session fails. */
    recoveryTimeoutMs: z.number().int().min(100).max(600_000).default(30_000),
    /**
     * The parts of `max` that phone calls may hold (fractions): `calls` for every source together (RTP fork, ARI,
     * SIP), `fork` for RTP fork calls, whose sources anyone can spoof. What calls cannot take stays free for API
     * sessions (realtime WebSockets, POST /v1/sessions), so a flood of calls never locks the API out.
     */
    shares: z
      .object({
        calls: z.number().min(0).max(1).default(0.8),
        fork: z.number().min(0).max(1).default(0.5),
      })
      .strict()
      .refine((s) => s.fork <= s.calls, { message: 'sessions.shares.fork must be <= sessions.shares.calls (fork calls are calls)' })
      .default({ calls: 0.8, fork: 0.5 }),
    timeouts: z
      .object({
        initMs: z.number().int().min(100).default(30_000),
        silenceMs: z.number().int().min(100).default(30_000),
        holdMs: z.number().int().min(100).default(300_000),
        closingMs: z.number().int().min(100).default(2_000),
      })
      .strict()
      .default({ initMs: 30_000, silenceMs: 30_000, holdMs: 300_000, closingMs: 2_000 }),
  })
  .strict();

const hubSchema = z
  .object({
    /** A Hugging Face compatible hub. */
    endpoint: z.string().url().default('https://huggingface.co'),
    token: z.string().min(1).optional(),
  })
  .strict();

const realtimeSchema = z
  .object({
    /** Open WebSocket connections at most (realtime and observers together); more are refused with close 1013. */
    maxConnections: z.number().int().min(1).default(500),
    /** A ping every this many ms; a connection that has not answered the previous one is closed (1011). 0 = off. */
    heartbeatMs: z.number().int().min(0).default(10_000),
    /** Largest message a client may send (bytes); larger closes the connection with 1009. */
    maxMessageBytes: z.number().int().min(1024).default(1024 * 1024),
    /** Outgoing bytes queued for a client that does not read before partials are dropped (finals are kept). */
    maxQueuedBytes: z.number().int().min(1024).default(1024 * 1024),
  })
  .strict();

const webhookSchema = z
  .object({
    /** Where call events are POSTed (JSON, one event per request); user:password in it is sent as Basic auth. */
    url: z.string().url(),
    /** How metrics and logs name this webhook (default: the URL's host and port; the URL itself is never shown whole). */
    name: z
      .string()
      .regex(/^[\w.:-]{1,64}$/, 'a webhook name is 1-64 letters, digits, _ . : or -')
      .optional(),
    /** HMAC-SHA256 key: requests carry `theo-signature: t=<unix s>,v1=<hex of HMAC(secret, "<t>.<body>")>`. */
    secret: z.string().min(1).optional(),
    /** Event types sent; '*' sends all (partials included). */
    events: z.array(z.string().min(1)).min(1).default(['session.created', 'vad.speech_start', 'transcript.final', 'dtmf', 'session.closed', 'error']),
    timeoutMs: z.number().int().min(100).max(60_000).default(5_000),
    /** Attempts after the first; backoff 0.5 s doubling, at most 30 s. */
    maxRetries: z.number().int().min(0).max(20).default(5),
    /** Events waiting for delivery; past this the oldest are dropped (and counted). */
    maxQueue: z.number().int().min(1).max(1_000_000).default(10_000),
  })
  .strict();

const ariSchema = z
  .object({
    /** Asterisk's HTTP server, e.g. http://127.0.0.1:8088. */
    url: z.string({ message: "Asterisk's HTTP address is required with the ARI controller (--ari-url, THEO_ARI_URL)" }).url(),
    user: z.string({ message: 'the ARI user is required with --ari-url (--ari-user, THEO_ARI_USER)' }).min(1),
    password: z.string({ message: 'the ARI password is required with --ari-url (--ari-password, THEO_ARI_PASSWORD)' }).min(1),
    /** The Stasis application calls enter (dialplan `Stasis(theo)`). */
    app: z.string().min(1).default('theo'),
    /** What the ExternalMedia channel sends: G.711 µ-law (8 kHz) or signed linear 16 kHz. */
    format: z.enum(['ulaw', 'slin16']).default('ulaw'),
    /** The address Asterisk sends RTP to (default rtp.host). */
    rtpHost: z.string().min(1).optional(),
    /** Channel variable set to each final on the caller's channel ('' = off). */
    transcriptVariable: z.string().default('THEO_TRANSCRIPT'),
    /** ARI user event raised with each final ('' = off). */
    userEvent: z.string().default('TheoTranscript'),
    /** 'mixed': one session per call; 'directions': snoop channels, a session per direction (caller / callee). */
    split: z.enum(['mixed', 'directions']).default('mixed'),
  })
  .strict();

const regex = z.string().min(1).refine((r) => {
  try {
    new RegExp(r);
    return true;
  } catch {
    return false;
  }
}, 'not a valid regular expression');

/** Settings for the calls to some numbers (the first rule whose `match` fits the called number wins). */
const sipNumberSchema = z
  .object({
    /** Regular expression the called number (the user part of the request URI) must match, e.g. '^\\+34'. */
    match: regex,
    model: z.string().min(1).optional(),
    language: z.string().min(2).max(16).optional(),
    hotWords: z.array(z.string().min(1)).optional(),
    /** Ring this long before answering (overrides telephony.sip.ringMs). */
    ringMs: z.number().int().min(0).max(120_000).optional(),
  })
  .strict();

const sipSchema = z
  .object({
    /** drachtio-server's address for applications (its admin port, 9022 by default). */
    host: z.string().min(1).default('127.0.0.1'),
    port: port.default(9022),
    secret: z.string({ message: "drachtio-server's shared secret is required with the SIP adapter (--drachtio-secret, THEO_DRACHTIO_SECRET)" }).min(1),
    /** The address put in SDP answers: where callers send RTP (default rtp.host). */
    rtpHost: z.string().min(1).optional(),
    /** Codecs taken, in order of preference among equals (the offer's order decides first). */
    codecs: z.array(z.enum(['PCMU', 'PCMA', 'L16'])).min(1).default(['PCMU', 'PCMA', 'L16']),
    /** Calls at once; more are answered 486 Busy Here (as are calls past sessions.max). */
    maxCalls: z.number().int().min(0).default(500),
    /** Ring this long (180 Ringing) before answering; 0 answers at once. */
    ringMs: z.number().int().min(0).max(120_000).default(0),
    /** No RTP for this long, while the call is not on hold, ends it with a BYE. */
    mediaTimeoutMs: z.number().int().min(500).max(3_600_000).default(30_000),
    /** Signalling source addresses allowed to call (empty = any); others get 403 Forbidden. */
    allow: z.array(z.string().min(1)).default([]),
    /** Keep-alive ping to drachtio-server every this many ms (0 = off; at least 5000). */
    pingIntervalMs: z.union([z.literal(0), z.number().int().min(5_000).max(300_000)]).default(15_000),
    /** Per-number settings: model, language, hot words, ringing for calls to numbers that match. */
    numbers: z.array(sipNumberSchema).default([]),
  })
  .strict();

const telephonySchema = z
  .object({
    /** Model for calls (default models.default). */
    model: z.string().min(1).optional(),
    language: z.string().min(2).max(16).optional(),
    hotWords: z.array(z.string().min(1)).default([]),
    /**
     * RNNoise on call audio: 'auto' = only while the line is noisy (a clean line passes untouched: RNNoise
     * costs PocketSphinx WER there, and RNNoise does not run), true = always, false = never.
     */
    denoise: z.union([z.boolean(), z.literal('auto')]).default('auto'),
    /** Plain RTP fork: every new source that sends to one of these ports becomes a call session. */
    fork: z
      .object({
        ports: z.array(port).default([]),
        /** Source addresses allowed to start a call (empty = any). */
        allow: z.array(z.string().min(1)).default([]),
        /**
         * Consistent RTP packets (one SSRC, sequence numbers and timestamps advancing with the payload type's
         * clock, whole samples) a new source must send before it becomes a call; until then it holds no stream
         * and no session, and its packets are replayed into the call once it is admitted.
         */
        probationPackets: z.number().int().min(2).max(50).default(5),
        /**
         * Unproven sources of one address at once; more are refused until some prove themselves or go quiet.
         * High enough for a dialler starting a burst of calls from one switch (each is unproven for ~100 ms).
         */
        maxPendingPerAddress: z.number().int().min(1).max(4096).default(128),
        /**
         * Calls from one source address at once (every fork port together); 0 = no cap but the fork's share of
         * the session pool. A switch or SBC forks all its calls from one address, so a default cap would refuse
         * real calls; set one where several senders share a fork.
         */
        maxCallsPerAddress: z.number().int().min(0).max(100_000).default(0),
      })
      .strict()
      .default({ ports: [], allow: [], probationPackets: 5, maxPendingPerAddress: 128, maxCallsPerAddress: 0 }),
    webhooks: z.array(webhookSchema).default([]),
    /** Asterisk ARI controller (off when not set). */
    ari: ariSchema.optional(),
    /** SIP user agent server through drachtio-server (off when not set). */
    sip: sipSchema.optional(),
  })
  .strict();

export const configSchema = z
  .object({
    server: z
      .object({
        host: z.string().min(1).default('127.0.0.1'),
        port: listenPort.default(8000),
        /** PEM certificate chain and private key files: with both, the API is served over HTTPS and WSS. */
        tlsCert: z.string().min(1).optional(),
        tlsKey: z.string().min(1).optional(),
        /** At shutdown, requests in flight get this long to finish; connections still open then are closed. */
        drainTimeoutMs: z.number().int().min(0).max(600_000).default(10_000),
      })
      .strict()
      .refine((s) => (s.tlsCert === undefined) === (s.tlsKey === undefined), { message: 'server.tlsCert and server.tlsKey go together: give both or neither' })
      .default({ host: '127.0.0.1', port: 8000, drainTimeoutMs: 10_000 }),
    log: z
      .object({ level: logLevel.default('info') })
      .strict()
      .default({ level: 'info' }),
    rtp: rtpSchema.default(() => rtpSchema.parse({})),
    models: modelsSchema.default(() => modelsSchema.parse({})),
    workers: workersSchema.default(() => workersSchema.parse({})),
    api: apiSchema.default(() => apiSchema.parse({})),
    batch: batchSchema.default(() => batchSchema.parse({})),
    hub: hubSchema.default(() => hubSchema.parse({})),
    preprocess: preprocessSchema.default(() => preprocessSchema.parse({})),
    postprocess: postprocessSchema.default(() => postprocessSchema.parse({})),
    vad: vadSchema.default(() => vadSchema.parse({})),
    sessions: sessionsSchema.default(() => sessionsSchema.parse({})),
    realtime: realtimeSchema.default(() => realtimeSchema.parse({})),
    telephony: telephonySchema.default(() => telephonySchema.parse({})),
  })
  .strict();

export type TheoConfig = z.infer<typeof configSchema>;
export type RtpConfig = TheoConfig['rtp'];
export type JitterConfig = RtpConfig['jitter'];
export type ModelsConfig = TheoConfig['models'];
export type WorkersConfig = TheoConfig['workers'];
export type ApiConfig = TheoConfig['api'];
export type HubConfig = TheoConfig['hub'];
export type PreprocessConfig = TheoConfig['preprocess'];
export type PostprocessConfig = TheoConfig['postprocess'];
export type VadConfig = TheoConfig['vad'];
export type SessionsConfig = TheoConfig['sessions'];
export type RealtimeConfig = TheoConfig['realtime'];
export type TelephonyConfig = TheoConfig['telephony'];
export type WebhookConfig = TelephonyConfig['webhooks'][number];
