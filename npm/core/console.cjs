"use strict";
// The usebetter console's product contract, shared by the tenant and audit packages: a product
// registers endpoints whose handlers take the console's request and answer a status and a body.
// A handler never throws at the console: a failure is the reference's opaque 500, unless the
// product recognises it as something the caller can fix.

/** A 400 with the reference's body shape. */
function badRequest(error) {
  return { status: 400, body: { error } };
}

function isPlainObject(value) {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Wraps `handler`: a failure becomes `answer(error)` when that gives a response, else a 500. */
function consoleHandler(handler, answer) {
  return async (request) => {
    try {
      return await handler(request);
    } catch (error) {
      return (answer && answer(error)) || { status: 500, body: { error: "Internal server error" } };
    }
  };
}

module.exports = { badRequest, isPlainObject, consoleHandler };
