// Theo's demo page: the microphone → 16 kHz PCM16 frames of 20 ms → WS /v1/realtime (the Theo protocol,
// docs/REALTIME.md) → partials and finals on the page. No framework, no build step.
const RATE = 16000;
const FRAME = RATE / 50;
const $ = (id) => document.getElementById(id);

let live; // { ws, ctx, stream, node }

function setStatus(text, dot) {
  $('status').textContent = text;
  if (dot) $('dot').className = `dot ${dot}`;
}

function clock(ms) {
  const s = Math.floor(ms / 1000);
  return `${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
}

function onEvent(ev) {
  switch (ev.type) {
    case 'session.created':
      $('session').textContent = ev.session_id;
      break;
    case 'vad.speech_start':
      setStatus('hearing speech', 'speaking');
      break;
    case 'vad.speech_end':
      setStatus('listening', 'listening');
      break;
    case 'transcript.partial':
      $('partial').textContent = ev.text;
      break;
    case 'transcript.final': {
      $('partial').textContent = '';
      if (!ev.text) break;
      const li = document.createElement('li');
      li.dataset.segment = String(ev.segment_id);
      const t = document.createElement('time');
      t.textContent = clock(ev.start_ms);
      li.append(t, document.createTextNode(ev.text));
      $('finals').append(li);
      li.scrollIntoView({ block: 'nearest' });
      break;
    }
    case 'session.frames_dropped':
      $('error').textContent = `audio was dropped (${ev.dropped_samples} samples): the server is behind`;
      break;
    case 'error':
      $('error').textContent = `${ev.code}: ${ev.message}`;
      break;
    case 'session.closed':
      setStatus(`closed (${ev.segments} utterances, ${(ev.duration_ms / 1000).toFixed(1)} s)`, 'idle');
      // The session is over: release the microphone and offer Start now, not when the socket's close arrives.
      teardown();
      break;
  }
}

async function start() {
  $('error').textContent = '';
  $('toggle').disabled = true;
  try {
    setStatus('asking for the microphone…');
    const stream = await navigator.mediaDevices.getUserMedia({ audio: { channelCount: 1, echoCancellation: true, noiseSuppression: false, autoGainControl: true } });
    const ctx = new AudioContext({ sampleRate: RATE });
    await ctx.audioWorklet.addModule('/demo/pcm-capture.js');
    const node = new AudioWorkletNode(ctx, 'pcm-capture', { processorOptions: { frameSamples: FRAME } });
    const params = new URLSearchParams({ sample_rate: String(RATE), itn: String($('itn').checked) });
    const language = $('language').value.trim();
    if (language) params.set('language', language);
    const key = $('key').value.trim();
    // Browsers cannot set headers on a WebSocket: the key travels as a subprotocol, as OpenAI's clients do.
    const protocols = key ? ['theo.realtime', `openai-insecure-api-key.${key}`] : [];
    const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/v1/realtime?${params}`, protocols);
    ws.binaryType = 'arraybuffer';
    live = { ws, ctx, stream, node };
    let opened = false;
    ws.onopen = () => {
      opened = true;
      ctx.createMediaStreamSource(stream).connect(node);
      node.connect(ctx.destination); // keeps the worklet pulled; it outputs silence
      node.port.onmessage = (e) => {
        $('level').value = e.data.peak;
        if (ws.readyState === WebSocket.OPEN) ws.send(e.data.pcm);
      };
      setStatus('listening', 'listening');
      $('toggle').textContent = 'Stop';
      $('toggle').className = 'stop';
      $('toggle').disabled = false;
    };
    ws.onmessage = (e) => {
      if (typeof e.data === 'string') onEvent(JSON.parse(e.data));
    };
    ws.onclose = (e) => {
      if (!opened) {
        setStatus('disconnected', 'idle');
        void explainRefusal(key);
      } else if (e.code !== 1000) {
        $('error').textContent = `connection closed: ${e.code} ${e.reason || ''}`.trim();
        setStatus('disconnected', 'idle');
      }
      // A socket of an earlier session may close after a new one started: it tears down only its own.
      if (live?.ws === ws) teardown();
    };
  } catch (err) {
    $('error').textContent = err instanceof Error ? err.message : String(err);
    setStatus('idle', 'idle');
    teardown();
  }
}

/**
 * A refused handshake reaches a page only as close 1006, without the server's HTTP status: an HTTP request
 * with the same key tells a wrong key (401) from a server that could not be reached.
 */
async function explainRefusal(key) {
  $('error').textContent = 'could not connect';
  try {
    const res = await fetch('/v1/models', { headers: key ? { authorization: `Bearer ${key}` } : {} });
    const body = await res.json().catch(() => ({}));
    if (res.status === 401) $('error').textContent = `unauthorized (HTTP 401): ${body.error?.message ?? 'check the API key'}`;
    else $('error').textContent = `could not connect (the server answers HTTP ${res.status})`;
  } catch {
    $('error').textContent = 'could not connect: the server cannot be reached';
  }
}

function stop() {
  if (!live) return;
  $('toggle').disabled = true;
  setStatus('finishing…');
  live.node.port.onmessage = null;
  // The server finalises what was said, sends session.closed and closes the socket.
  if (live.ws.readyState === WebSocket.OPEN) live.ws.send(JSON.stringify({ type: 'session.close' }));
  else teardown();
}

function teardown() {
  if (live) {
    live.stream.getTracks().forEach((t) => t.stop());
    void live.ctx.close();
    live = undefined;
  }
  $('level').value = 0;
  $('toggle').textContent = 'Start';
  $('toggle').className = '';
  $('toggle').disabled = false;
}

$('controls').addEventListener('submit', (e) => {
  e.preventDefault();
  if (live) stop();
  else void start();
});
