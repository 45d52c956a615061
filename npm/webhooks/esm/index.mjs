import m from "../dist/index.js";

export const {
  WebhooksError,
  WebhooksConfigError,
  WebhooksSendError,
  WebhooksEndpointError,
  WebhookVerificationError,
  betterWebhooks,
  defineEventTypes,
} = m;
