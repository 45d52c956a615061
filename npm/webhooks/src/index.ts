export {
  WebhooksError,
  WebhooksConfigError,
  WebhooksSendError,
  WebhooksEndpointError,
  WebhookVerificationError,
  type WebhooksErrorCode,
} from "./errors";
