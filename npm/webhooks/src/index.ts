export {
  WebhooksError,
  WebhooksConfigError,
  WebhooksSendError,
  WebhooksEndpointError,
  WebhookVerificationError,
  type WebhooksErrorCode,
} from "./errors";
export { betterWebhooks, defineEventTypes, type BetterWebhooks } from "./webhooks";
export type { BetterWebhooksConfig, WebhooksOptions, Schema, StandardSchema, EventTypeMap, EventMap, EventTypePattern, PayloadOf, AnySendInput, CallOptions } from "./types";
export type { SendInput, SendResult } from "./send";
export type { Endpoint, EndpointInput } from "./endpoints";
export type { WorkerOptions } from "./engine/worker";
export type { WebhooksDatabase, Executor } from "./db";
export type { ListQuery, Page } from "./queries";
