// Public face of the config module.
export { loadConfig, type LoadConfigOptions } from './load.js';
export { configSchema, type TheoConfig, type RtpConfig, type JitterConfig, type ModelsConfig, type WorkersConfig, type ApiConfig, type HubConfig } from './schema.js';
