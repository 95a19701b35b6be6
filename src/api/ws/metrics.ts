// Metrics of the WebSocket API.
import { Counter, Gauge, type Registry } from 'prom-client';

export interface WsMetrics {
  connections: Gauge<'protocol'>;
  rejected: Counter<'reason'>;
  inputErrors: Counter<'protocol' | 'code'>;
  dropped: Counter<'protocol'>;
  closes: Counter<'code'>;
  protocolErrors: Counter<'code'>;
}

export function createWsMetrics(registry: Registry): WsMetrics {
  return {
    connections: new Gauge({ name: 'theo_ws_connections', help: 'open WebSocket connections, by protocol', labelNames: ['protocol'], registers: [registry] }),
    rejected: new Counter({ name: 'theo_ws_rejected_total', help: 'WebSocket connections refused, by reason', labelNames: ['reason'], registers: [registry] }),
    inputErrors: new Counter({ name: 'theo_ws_input_errors_total', help: 'client messages rejected (bad JSON, unknown events, odd-length audio, ...), by code', labelNames: ['protocol', 'code'], registers: [registry] }),
    dropped: new Counter({ name: 'theo_ws_partials_dropped_total', help: 'partials not sent to a client that was not reading', labelNames: ['protocol'], registers: [registry] }),
    protocolErrors: new Counter({ name: 'theo_ws_protocol_errors_total', help: 'connections the WebSocket layer closed for a frame that breaks RFC 6455 (bad opcode, unmasked frame, invalid UTF-8, over the size limit: close 1002/1007/1009), by error code', labelNames: ['code'], registers: [registry] }),
    closes: new Counter({ name: 'theo_ws_closes_total', help: 'WebSocket connections ended, by close code (1006: no close frame)', labelNames: ['code'], registers: [registry] }),
  };
}
