// Midjourney relay: config, the engine-shaped calls and the notify-hook entry point (the request
// checks for Midjourney models live with the relay renderer, render/midjourney-request.ts).
export {
  defineUpstream,
  loadRelayConfig,
  type MjUpstream,
  type MjUpstreamInput,
  parseRelayConfig,
  type RelayConfig,
  RelayConfigError,
  upstreamForModel,
  upstreamOf,
} from './config.ts';
export { acceptNotifyHook, defaultNotifyHub, NotifyHub } from './notify.ts';
export type { MjButton, MjTask, MjTaskStatus } from './protocol.ts';
export {
  MJ_FOLLOW_UPS,
  type MjFollowUp,
  type RelayCallOptions,
  type RelayEvent,
  type RelayFollowUpRequest,
  type RelayGenerateRequest,
  type RelayResult,
  relayFollowUp,
  relayGenerate,
} from './relay.ts';
export type { FetchedImage } from './transport.ts';
