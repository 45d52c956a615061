import m from "../dist/testing/index.js";

export const { captureTransport, fakeResend, fakePostmark, fakeSes, fakeSendgrid, fakeMailgun } = m;
