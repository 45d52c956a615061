import m from "../dist/receiver/index.js";

export const { verifyWebhook, signWebhook, generateSecret, headerPairs, verifyBytes, WebhookVerificationError, WebhooksError } = m;
